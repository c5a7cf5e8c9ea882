import type { GatewayConfig } from '../config.ts'
import type { HistoryStore } from '../history/store.ts'
import type { Hub } from '../hub/hub.ts'
import type { Logger } from '../log.ts'
import { ConnectionIndex, type Connection, type Subscription } from './connection.ts'
import { CLOSE, subscribedFrame, unsubscribedFrame } from './protocol.ts'
import type { GatewayStats } from './stats.ts'

/**
 * The socket operations every part of the gateway shares. Every write goes through
 * `write`, which is where "never drop silently" is enforced: a frame uWS refuses, or a
 * buffer past the limit, closes the socket with 4008 and the client resumes from its
 * last id.
 */
export interface GatewayCore {
  readonly config: GatewayConfig
  readonly stats: GatewayStats
  readonly index: ConnectionIndex
  readonly hub: Hub
  readonly history: HistoryStore
  readonly log: Logger
  /** Sends one text frame; false when the socket is closed (maybe by this very send). */
  write(conn: Connection, text: string): boolean
  /** Closes the socket if its send buffer is past the limit (or a frame was dropped); true if it did. */
  checkBackpressure(conn: Connection, dropped?: boolean): boolean
  /** Goes live on the uWS topic and confirms with `subscribed`; nothing runs in between. */
  attach(conn: Connection, sub: Subscription): void
  /** Ends a subscription in any state and tells the client why (`ref`: the unsubscribe's). */
  cancel(conn: Connection, topic: string, reason: 'client' | 'revoked', ref?: Subscription['ref']): void
  end(conn: Connection, code: number, reason: string): void
  /** Resolves once the send buffer is below a quarter of the limit (or the socket closed). */
  drained(conn: Connection): Promise<void>
}

export interface CoreDeps {
  readonly config: GatewayConfig
  readonly stats: GatewayStats
  readonly hub: Hub
  readonly history: HistoryStore
  readonly log: Logger
}

export function createCore(deps: CoreDeps): GatewayCore {
  const { config, stats, log } = deps
  const index = new ConnectionIndex()
  const drainLevel = Math.floor(config.maxBackpressure / 4)

  const core: GatewayCore = {
    ...deps,
    index,
    write(conn, text) {
      const ws = conn.ws
      if (conn.closed || ws === undefined) return false
      let status = 0
      ws.cork(() => { status = ws.send(text) })
      stats.messagesSent++
      stats.bytesSent += Buffer.byteLength(text)
      // 2: uWS dropped the frame (its own cap, set far above ours, was reached).
      return !core.checkBackpressure(conn, status === 2)
    },
    checkBackpressure(conn, dropped = false) {
      if (conn.closed || conn.ws === undefined) return false
      const buffered = conn.ws.getBufferedAmount()
      if (buffered <= config.maxBackpressure && !dropped) return false
      slowConsumer(conn, buffered)
      return true
    },
    attach(conn, sub) {
      const ws = conn.ws
      if (conn.closed || ws === undefined) return
      ws.subscribe(sub.topic)
      sub.state = 'live'
      index.attach(conn, sub.topic)
      stats.subscriptions++
      core.write(conn, subscribedFrame(sub.topic, sub.ref))
    },
    cancel(conn, topic, reason, ref) {
      const sub = conn.subscriptions.get(topic)
      if (sub !== undefined) {
        conn.subscriptions.delete(topic)
        sub.cancelled = true
      }
      if (reason === 'revoked') stats.revocations++
      // Send first: uWS flushes the socket's queued topic messages before a direct send,
      // but unsubscribe() discards them.
      core.write(conn, unsubscribedFrame(topic, reason, ref))
      if (sub?.state === 'live') {
        if (!conn.closed) conn.ws?.unsubscribe(topic)
        index.detach(conn, topic)
        stats.subscriptions--
      }
    },
    end(conn, code, reason) {
      if (conn.closed || conn.ws === undefined) return
      conn.ws.end(code, reason)
    },
    drained(conn) {
      if (conn.closed || conn.ws === undefined || conn.ws.getBufferedAmount() <= drainLevel) return Promise.resolve()
      return new Promise((resolve) => conn.drainWaiters.push(resolve))
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

/** Called from the uWS drain handler and on close: wakes replays waiting for room. */
export function wakeDrainWaiters(conn: Connection, drainLevel: number): void {
  if (conn.drainWaiters.length === 0) return
  if (!conn.closed && conn.ws !== undefined && conn.ws.getBufferedAmount() > drainLevel) return
  const waiters = conn.drainWaiters
  conn.drainWaiters = []
  for (const wake of waiters) wake()
}
