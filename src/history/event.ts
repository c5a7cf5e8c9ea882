import { formatEventId, formatLsn, type EventId } from '../event-id.ts'

/** An event as the history stores it and the hub publishes it. Immutable once built. */
export interface StoredEvent {
  readonly id: string
  readonly lsn: bigint
  readonly seq: number
  readonly topics: readonly string[]
  readonly type: string
  readonly data: Readonly<Record<string, unknown>>
  /** Commit time of the source transaction, ISO-8601. */
  readonly ts: string
}

export function makeEvent(
  id: EventId,
  draft: { type: string; topics: readonly string[]; data: Readonly<Record<string, unknown>> },
  committedAt: Date,
): StoredEvent {
  return {
    id: formatEventId(id),
    lsn: id.lsn,
    seq: id.seq,
    topics: draft.topics,
    type: draft.type,
    data: draft.data,
    ts: committedAt.toISOString(),
  }
}

/** The wire form of an event for one topic (WebSocket `event` frame, SSE data, polling). */
export function eventFrame(event: StoredEvent, topic: string): Record<string, unknown> {
  return { op: 'event', id: event.id, topic, type: event.type, data: event.data, ts: event.ts, lsn: formatLsn(event.lsn) }
}
