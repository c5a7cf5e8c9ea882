/**
 * Counters the gateway keeps for metrics; the ops stage turns them into Prometheus
 * series. Gauges are current values, everything else only grows.
 */
export interface GatewayStats {
  /** Gauge: open sockets. */
  connections: number
  /** Gauge: live subscriptions (replay finished). */
  subscriptions: number
  connectionsOpened: number
  /**
   * Sockets refused: on the upgrade (no token 401, too many waiting 429, shutting down
   * 503) or right after it (bad token 4401, per-user limit 4030, tokens unverifiable 1013).
   */
  upgradesRejected: number
  authFailures: number
  /** Event frames serialized (once per topic) and handed to uWS. */
  eventsPublished: number
  /** Frames delivered to sockets (publish fan-out counts each recipient). */
  messagesSent: number
  bytesSent: number
  replayRequests: number
  replayEvents: number
  resets: number
  revocations: number
  slowConsumerCloses: number
  /** Connections closed with 1013 because their subscription's history read or access check waited too long (read-gate.ts, access-checks.ts). */
  overloadCloses: number
  /** Live subscriptions whose client fell behind: taken off live delivery to catch up at its pace. */
  pacedSubscriptions: number
  /** Largest send buffer (bytes) seen when closing a slow consumer: how far past the limit one got. */
  slowConsumerMaxBuffered: number
  rateLimitedFrames: number
  rateLimitCloses: number
  tokenExpiryCloses: number
  badFrames: number
  /** Ephemeral messages accepted from this node's clients. */
  ephemeralAccepted: number
  /** Ephemeral `publish`/`presence` frames refused (not_ephemeral, forbidden, payload_too_large, rate_limited). */
  ephemeralRefused: number
  /** Ephemeral frames not sent to a socket already past the pacing mark (live only, at most once). */
  ephemeralDropped: number
}

export function createStats(): GatewayStats {
  return {
    connections: 0,
    subscriptions: 0,
    connectionsOpened: 0,
    upgradesRejected: 0,
    authFailures: 0,
    eventsPublished: 0,
    messagesSent: 0,
    bytesSent: 0,
    replayRequests: 0,
    replayEvents: 0,
    resets: 0,
    revocations: 0,
    slowConsumerCloses: 0,
    overloadCloses: 0,
    pacedSubscriptions: 0,
    slowConsumerMaxBuffered: 0,
    rateLimitedFrames: 0,
    rateLimitCloses: 0,
    tokenExpiryCloses: 0,
    badFrames: 0,
    ephemeralAccepted: 0,
    ephemeralRefused: 0,
    ephemeralDropped: 0,
  }
}
