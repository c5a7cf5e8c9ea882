import { eventFrameJson, serializedEventFrame, type StoredEvent } from '../history/event.ts'
import { CLOSE } from '../protocol/close-codes.ts'
import { resetFrame } from '../protocol/server-frames.ts'
import type { SubscriberSink } from '../subscription/core.ts'
import type { Connection, Subscription } from './connection.ts'
import type { GatewayCore } from './core.ts'

/**
 * One WebSocket subscription as the subscription core sees it: replayed events are
 * written to this socket alone; live ones reach it through the uWS topic (delivery.ts),
 * which `live` joins and `leaveLive` leaves; a follow set's arrive through `deliver`.
 */
export function subscriptionSink(core: GatewayCore, conn: Connection, sub: Subscription, follow = false): SubscriberSink {
  const { stats, config } = core
  return {
    // A follow set is no uWS topic (its events are published under their own topics): the
    // core hands each of its events to this socket alone, in hub order.
    ...(follow ? { deliver: (event: StoredEvent) => { core.write(conn, eventFrameJson(event, sub.topic)) } } : {}),
    send(events, stopAbove) {
      const ws = conn.ws
      if (ws === undefined || conn.closed || events.length === 0) return 0
      let sent = 0
      ws.cork(() => {
        for (const event of events) {
          if (!core.write(conn, serializedEventFrame(event, sub.topic).json)) return
          sent++
          if (ws.getBufferedAmount() > stopAbove) return
        }
      })
      stats.replayEvents += sent
      return sent
    },
    fits(events) {
      const ws = conn.ws
      if (ws === undefined || conn.closed) return false
      let bytes = ws.getBufferedAmount()
      for (const event of events) bytes += serializedEventFrame(event, sub.topic).bytes
      return bytes <= config.maxBackpressure
    },
    drained: () => core.drained(conn),
    taken: () => core.taken(conn),
    closed: () => conn.closed || sub.cancelled,
    live: (head, again) => core.attach(conn, sub, head, again),
    leaveLive: () => core.detach(conn, sub),
    reset(topic, reason, head) {
      stats.resets++
      core.write(conn, resetFrame(topic, reason, head))
    },
    revoked: (topic) => core.cancel(conn, topic, 'revoked'),
    failed: () => core.end(conn, CLOSE.internalError, 'internal error'),
    stalled: () => core.slowConsumer(conn),
  }
}
