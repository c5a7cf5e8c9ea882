// Imported, not the global (an accessor): every frame written asks for its byte length.
import { Buffer } from 'node:buffer'
import type { GatewayConfig } from '../config.ts'
import type { Logger } from '../log.ts'
import type { SubscriptionCore } from '../subscription/core.ts'
import { ConnectionIndex, type Connection, type Subscription } from './connection.ts'
import { CLOSE } from '../protocol/close-codes.ts'
import { subscribedFrame, unsubscribedFrame } from '../protocol/server-frames.ts'
import type { GatewayStats } from './stats.ts'
import { isOverloaded } from '../subscription/read-gate.ts'
import { overBufferLimit } from '../subscription/buffer-limit.ts'

/**
 * The socket operations every part of the gateway shares. Every write goes through
 * `write`, which is where "never drop silently" is enforced: a frame uWS refuses, or a
 * buffer past the limit, closes the socket with 4008 and the client resumes from its
 * last id. The limit bounds what is queued, not one frame (src/subscription/buffer-limit.ts).
 */
export interface GatewayCore {
  readonly config: GatewayConfig
  readonly stats: GatewayStats
  readonly index: ConnectionIndex
  readonly subscriptions: SubscriptionCore
  readonly log: Logger
  /** Sends one text frame (a string, or its UTF-8 bytes); false when the socket is closed (maybe by this very send). */
  write(conn: Connection, text: string | Buffer): boolean
  /**
   * Closes the socket if its send buffer is past the limit (or a frame was dropped); true
   * if it did. `frameBytes`: the frame just written, which the rule above may admit.
   */
  checkBackpressure(conn: Connection, dropped?: boolean, frameBytes?: number): boolean
  /**
   * Live delivery has handed this socket every event up to `position`. Past the pacing
   * mark (half the limit) its live subscriptions leave their uWS topics and catch up from
   * there at the client's pace; with none live, past the limit it is closed with 4008.
   */
  pace(conn: Connection, position: string): void
  /** Goes live on the uWS topic and, unless it is a resync, confirms with `subscribed` at `head`. */
  attach(conn: Connection, sub: Subscription, head: string, again: boolean): void
  /** Leaves the uWS topic for a resync replay (the subscription stays). */
  detach(conn: Connection, sub: Subscription): void
  /** Ends a subscription in any state and tells the client why (`ref`: the unsubscribe's). */
  cancel(conn: Connection, topic: string, reason: 'client' | 'revoked', ref?: Subscription['ref']): void
  end(conn: Connection, code: number, reason: string): void
  /**
   * Closes after the database failed a subscription: 1013 when walcast shed the read (a
   * storm, a slow database: the client backs off, class `overload`), 1011 otherwise.
   */
  failed(conn: Connection, err: unknown): void
  /** Closes with 4008: the client does not keep up (it resumes from its last id). */
  slowConsumer(conn: Connection): void
  /** Resolves once the send buffer is below a quarter of the limit (or the socket closed). */
  drained(conn: Connection): Promise<void>
  /**
   * Wakes the replays waiting in `drained` if the buffer is down to the drain level (or
   * the socket closed). Never from inside uWS's drain handler: see `wakeAfterDrain`.
   */
  wakeDrained(conn: Connection): void
  /**
   * uWS's drain handler: wakes the waiting replays on the next turn of the loop, outside
   * uWS's writable callback. A replay woken inside it (promises resolve before the
   * callback returns) writes from there, and a frame of 16 KiB or more written onto an
   * empty buffer goes out by uWS's writev path, which does not flag a short write; the
   * callback's end then stops polling the socket for writability, so what the kernel did
   * not take stays in uWS's buffer and no drain comes again: the replay would wait until
   * the stall rule closed a client that reads on (4008).
   */
  wakeAfterDrain(conn: Connection): void
  /**
   * Bytes the socket has handed on to the kernel so far (the stall rule's count). Exact
   * while it is on no uWS topic, as during a catch-up; a topic publish meanwhile makes it
   * read low, never high, so a doubt closes as before rather than keeping a stalled reader.
   */
  taken(conn: Connection): number
  /** Pings the socket (counted in `written`); false if uWS dropped it (its own cap). */
  ping(conn: Connection): boolean
}

export interface CoreDeps {
  readonly config: GatewayConfig
  readonly stats: GatewayStats
  readonly subscriptions: SubscriptionCore
  readonly log: Logger
  /** Told when a subscription first goes live and when it ends (presence, src/ephemeral/websocket.ts). */
  readonly lifecycle?: { live(conn: Connection, topic: string): void; ended(conn: Connection, topic: string): void }
}

export function createCore(deps: CoreDeps): GatewayCore {
  const { config, stats, log } = deps
  const index = new ConnectionIndex()
  const drainLevel = Math.floor(config.maxBackpressure / 4)
  // Live delivery stops filling a socket here: one check interval (a quarter of the limit,
  // delivery.ts) past it still leaves room below the limit.
  const paceLevel = Math.floor(config.maxBackpressure / 2)
  // Sockets whose drain came in this turn of the loop: woken together, once, on the next.
  const drainedSockets = new Set<Connection>()
  const wakeDrainedSockets = (): void => {
    for (const conn of drainedSockets) wakeDrainWaiters(conn, drainLevel)
    drainedSockets.clear()
  }

  const core: GatewayCore = {
    ...deps,
    index,
    write(conn, text) {
      const ws = conn.ws
      if (conn.closed || ws === undefined) return false
      let status = 0
      ws.cork(() => { status = ws.send(text) })
      const bytes = typeof text === 'string' ? Buffer.byteLength(text) : text.length
      stats.messagesSent++
      stats.bytesSent += bytes
      conn.written += bytes
      // 2: uWS dropped the frame (its own cap, set far above ours, was reached).
      return !core.checkBackpressure(conn, status === 2, bytes)
    },
    checkBackpressure(conn, dropped = false, frameBytes = 0) {
      if (conn.closed || conn.ws === undefined) return false
      const buffered = conn.ws.getBufferedAmount()
      if (!dropped && !overBufferLimit(conn, config.maxBackpressure, buffered, frameBytes)) return false
      slowConsumer(conn, buffered)
      return true
    },
    pace(conn, position) {
      const ws = conn.ws
      if (conn.closed || ws === undefined || ws.getBufferedAmount() <= paceLevel) return
      const live = [...conn.subscriptions.values()].filter((sub) => sub.state === 'live' && sub.handle !== undefined)
      // Paced, it takes no more live frames: a buffer that went a little past the limit
      // before this check (uWS writes published frames out in bunches) stays bounded.
      if (live.length === 0) {
        core.checkBackpressure(conn)
        return
      }
      // uWS holds a few published frames per socket before it writes them, and unsubscribe()
      // discards those; any direct send writes them out first. A ping is one the client
      // answers without seeing it. Dropped (uWS's own cap): nothing can be proven, close.
      if (!core.ping(conn)) return slowConsumer(conn, ws.getBufferedAmount())
      stats.pacedSubscriptions += live.length
      for (const sub of live) {
        const from = sub.liveFrom !== undefined && sub.liveFrom > position ? sub.liveFrom : position
        deps.subscriptions.fallBehind(sub.handle!, from)
      }
    },
    attach(conn, sub, head, again) {
      const ws = conn.ws
      if (conn.closed || ws === undefined || sub.state === 'live') return
      ws.subscribe(sub.topic)
      sub.state = 'live'
      sub.liveFrom = head
      index.attach(conn, sub.topic)
      stats.subscriptions++
      if (!again) core.write(conn, subscribedFrame(sub.topic, head, sub.ref, deps.subscriptions.isConflated(sub.topic) ? 'conflated' : undefined))
      if (!again) deps.lifecycle?.live(conn, sub.topic)
    },
    detach(conn, sub) {
      if (sub.state !== 'live') return
      sub.state = 'pending'
      if (!conn.closed) conn.ws?.unsubscribe(sub.topic)
      index.detach(conn, sub.topic)
      stats.subscriptions--
    },
    cancel(conn, topic, reason, ref) {
      const sub = conn.subscriptions.get(topic)
      if (sub !== undefined) {
        conn.subscriptions.delete(topic)
        sub.cancelled = true
        if (sub.handle !== undefined) deps.subscriptions.end(sub.handle)
      }
      if (reason === 'revoked') stats.revocations++
      // Send first: uWS flushes the socket's queued topic messages before a direct send,
      // but unsubscribe() discards them.
      core.write(conn, unsubscribedFrame(topic, reason, ref))
      if (sub !== undefined) core.detach(conn, sub)
      if (sub !== undefined) deps.lifecycle?.ended(conn, topic)
    },
    end(conn, code, reason) {
      if (conn.closed || conn.ws === undefined) return
      conn.ws.end(code, reason)
    },
    failed(conn, err) {
      if (isOverloaded(err)) {
        stats.overloadCloses++
        core.end(conn, CLOSE.tryAgainLater, 'server busy; come back later')
      } else {
        core.end(conn, CLOSE.internalError, 'internal error')
      }
    },
    slowConsumer(conn) {
      if (conn.closed || conn.ws === undefined) return
      slowConsumer(conn, conn.ws.getBufferedAmount())
    },
    taken(conn) {
      if (conn.closed || conn.ws === undefined) return conn.written
      return conn.written - conn.ws.getBufferedAmount()
    },
    ping(conn) {
      const ws = conn.ws
      if (conn.closed || ws === undefined) return false
      if (ws.ping() === 2) return false
      conn.written += PING_BYTES
      return true
    },
    drained(conn) {
      if (conn.closed || conn.ws === undefined || conn.ws.getBufferedAmount() <= drainLevel) return Promise.resolve()
      return new Promise((resolve) => conn.drainWaiters.push(resolve))
    },
    wakeDrained(conn) {
      wakeDrainWaiters(conn, drainLevel)
    },
    wakeAfterDrain(conn) {
      if (conn.drainWaiters.length === 0) return
      if (drainedSockets.size === 0) setImmediate(wakeDrainedSockets)
      drainedSockets.add(conn)
    },
  }

  function slowConsumer(conn: Connection, buffered: number): void {
    stats.slowConsumerCloses++
    stats.slowConsumerMaxBuffered = Math.max(stats.slowConsumerMaxBuffered, buffered)
    log.info({ conn: conn.id, buffered }, 'closing slow consumer')
    core.end(conn, CLOSE.slowConsumer, 'slow consumer')
  }

  return core
}

/** An empty ping frame: opcode and length. */
const PING_BYTES = 2

/** Wakes replays waiting for room (core.wakeDrained, core.wakeAfterDrain). */
function wakeDrainWaiters(conn: Connection, drainLevel: number): void {
  if (conn.drainWaiters.length === 0) return
  if (!conn.closed && conn.ws !== undefined && conn.ws.getBufferedAmount() > drainLevel) return
  const waiters = conn.drainWaiters
  conn.drainWaiters = []
  for (const wake of waiters) wake()
}
