import { eventFrameJson, type StoredEvent } from '../history/event.ts'
import { resetFrame } from '../protocol/server-frames.ts'
import type { ResetReason } from '../protocol/server-frames.ts'
import type { SubscriberSink } from '../subscription/core.ts'
import type { Connection, Subscription } from './connection.ts'
import type { GatewayCore } from './core.ts'
import { ReplayWriter } from './replay-writer.ts'

/**
 * One WebSocket subscription as the subscription core sees it: replayed events are
 * written to this socket alone; live ones reach it through the uWS topic (delivery.ts),
 * which `live` joins and `leaveLive` leaves; a follow set's arrive through `deliver`.
 */
export function subscriptionSink(core: GatewayCore, conn: Connection, sub: Subscription, follow = false, batch = false): SubscriberSink {
  return follow ? new FollowSocketSink(core, conn, sub, batch) : new SocketSink(core, conn, sub, batch)
}

/**
 * Methods on the prototype, not closures: every idle subscribed connection holds one of
 * these, and a dozen closures over it cost a kilobyte per connection (bench §4).
 */
class SocketSink implements SubscriberSink {
  // Replayed events: one frame each, or batch frames for a client that asked (src/protocol/event-batch.ts).
  private readonly writer: ReplayWriter

  constructor(protected readonly core: GatewayCore, protected readonly conn: Connection, protected readonly sub: Subscription, batch: boolean) {
    this.writer = new ReplayWriter(core, conn, sub.topic, batch)
  }

  send(events: readonly StoredEvent[], stopAbove: number): number {
    return this.writer.send(events, stopAbove)
  }

  fits(events: readonly StoredEvent[]): boolean {
    return this.writer.fits(events)
  }

  drained(): Promise<void> {
    return this.core.drained(this.conn)
  }

  taken(): number {
    return this.core.taken(this.conn)
  }

  closed(): boolean {
    return this.conn.closed || this.sub.cancelled
  }

  live(head: string, again: boolean): void {
    this.core.attach(this.conn, this.sub, head, again)
  }

  leaveLive(): void {
    this.core.detach(this.conn, this.sub)
  }

  reset(topic: string, reason: ResetReason, head: string): void {
    this.core.stats.resets++
    this.core.write(this.conn, resetFrame(topic, reason, head))
  }

  revoked(topic: string): void {
    this.core.cancel(this.conn, topic, 'revoked')
  }

  failed(err: unknown): void {
    this.core.failed(this.conn, err)
  }

  stalled(): void {
    this.core.slowConsumer(this.conn)
  }
}

/**
 * A follow set is no uWS topic (its events are published under their own topics): the
 * core hands each of its events to this socket alone, in hub order.
 */
class FollowSocketSink extends SocketSink {
  deliver(event: StoredEvent): void {
    this.core.write(this.conn, eventFrameJson(event, this.sub.topic))
  }
}
