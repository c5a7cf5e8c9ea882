import { eventFrameJson, type StoredEvent } from '../history/event.ts'
import { resetFrame } from '../protocol/server-frames.ts'
import type { SubscriberSink } from '../subscription/core.ts'
import type { Connection, Subscription } from './connection.ts'
import type { GatewayCore } from './core.ts'
import { createReplayWriter } from './replay-writer.ts'

/**
 * One WebSocket subscription as the subscription core sees it: replayed events are
 * written to this socket alone; live ones reach it through the uWS topic (delivery.ts),
 * which `live` joins and `leaveLive` leaves; a follow set's arrive through `deliver`.
 */
export function subscriptionSink(core: GatewayCore, conn: Connection, sub: Subscription, follow = false, batch = false): SubscriberSink {
  const { stats } = core
  // Replayed events: one frame each, or batch frames for a client that asked (src/protocol/event-batch.ts).
  const writer = createReplayWriter(core, conn, sub.topic, batch)
  return {
    // A follow set is no uWS topic (its events are published under their own topics): the
    // core hands each of its events to this socket alone, in hub order.
    ...(follow ? { deliver: (event: StoredEvent) => { core.write(conn, eventFrameJson(event, sub.topic)) } } : {}),
    send: writer.send,
    fits: writer.fits,
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
    failed: (err) => core.failed(conn, err),
    stalled: () => core.slowConsumer(conn),
  }
}
