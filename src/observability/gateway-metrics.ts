import { Counter, Gauge, type Registry } from 'prom-client'

/**
 * What the gateway reports about its clients. Counters are totals since start; the
 * gateway owns the numbers, the metrics only read them at scrape time.
 */
export interface GatewayStats {
  // Field names follow the gateway's own stats object, so its stats() plugs in as it is.
  readonly connections: number
  readonly subscriptions: number
  readonly messagesSent: number
  readonly bytesSent: number
  readonly slowConsumerCloses: number
  /** Closed with 1013: a history read for their resume, or their access check, waited too long (a storm, a slow database). */
  readonly overloadCloses?: number
  /** Live subscriptions taken off live delivery to catch up at their client's pace. */
  readonly pacedSubscriptions?: number
  readonly authFailures: number
  readonly replayRequests: number
  readonly replayEvents: number
  /** Resumes answered with `reset` (pruned history, a recorded gap). */
  readonly resets?: number
  /** Ephemeral messages (src/ephemeral/websocket.ts): accepted, refused, not sent to a socket past the pacing mark. */
  readonly ephemeralAccepted?: number
  readonly ephemeralRefused?: number
  readonly ephemeralDropped?: number
}

/** undefined while no gateway runs: the series then read 0. */
export type GatewayStatsSource = () => GatewayStats | undefined

const GAUGES: ReadonlyArray<[keyof GatewayStats, string, string]> = [
  ['connections', 'walcast_gateway_connections', 'Open client connections.'],
  ['subscriptions', 'walcast_gateway_subscriptions', 'Active topic subscriptions over all connections.'],
]

const COUNTERS: ReadonlyArray<[keyof GatewayStats, string, string]> = [
  ['messagesSent', 'walcast_gateway_messages_sent_total', 'Messages sent to clients.'],
  ['bytesSent', 'walcast_gateway_bytes_sent_total', 'Bytes sent to clients.'],
  ['slowConsumerCloses', 'walcast_gateway_slow_consumer_closes_total', 'Connections closed because the client read too slowly.'],
  ['overloadCloses', 'walcast_gateway_overload_closes_total', 'Connections closed with 1013 because a history read for their resume or replay waited longer than WALCAST_DB_REPLAY_WAIT, or an access check for their subscribe longer than WALCAST_DB_ACCESS_CHECK_WAIT.'],
  ['pacedSubscriptions', 'walcast_gateway_paced_subscriptions_total', 'Live subscriptions taken off live delivery to catch up at their client\'s pace.'],
  ['authFailures', 'walcast_gateway_auth_failures_total', 'Rejected tokens.'],
  ['replayRequests', 'walcast_gateway_replay_requests_total', 'Resumes that needed events from before the live stream.'],
  ['replayEvents', 'walcast_gateway_replayed_events_total', 'Events sent while replaying.'],
  ['resets', 'walcast_gateway_resets_total', 'WebSocket reset frames: resumes the history could not prove complete, and live subscriptions reset by a recorded gap.'],
  ['ephemeralAccepted', 'walcast_gateway_ephemeral_accepted_total', 'Ephemeral messages accepted from this node\'s clients (never stored).'],
  ['ephemeralRefused', 'walcast_gateway_ephemeral_refused_total', 'Ephemeral publish and presence frames refused (not_ephemeral, forbidden, payload_too_large, rate_limited).'],
  ['ephemeralDropped', 'walcast_gateway_ephemeral_dropped_total', 'Ephemeral frames not sent to a socket already past the pacing mark (live only, at most once).'],
]

export function registerGatewayMetrics(registry: Registry, source: GatewayStatsSource): void {
  for (const [key, name, help] of GAUGES) {
    new Gauge({
      name, help, registers: [registry],
      collect() { this.set(source()?.[key] ?? 0) },
    })
  }
  for (const [key, name, help] of COUNTERS) {
    new Counter({
      name, help, registers: [registry],
      // The gateway keeps the running total; a counter has no set(), so reset and add.
      collect() {
        this.reset()
        this.inc(source()?.[key] ?? 0)
      },
    })
  }
}
