import type { CatalogTable } from '../../catalog/catalog.ts'
import type { DraftEvent, Row, RowChange } from '../../catalog/row-change.ts'
import { changed, idValue, jsonValue } from '../../catalog/values.ts'
import type { PaymentStreamEventType } from './events.ts'

export const streamTopic = (streamId: string): string => `stream:${streamId}`

/**
 * payment_streams: `stream:updated` when a stream opens or its rate, withdrawn amount or
 * status changes; `settle:finished` when its status becomes settled. The parties' ids and
 * the memo stay in the database: the topic is the stream, readable by its two parties.
 */
export const streamsMapper: CatalogTable<PaymentStreamEventType> = {
  table: 'public.payment_streams',
  columns: ['id', 'currency', 'rate', 'withdrawn', 'status', 'settled_at'],
  events: ['stream:updated', 'settle:finished'],
  fullIdentity: true,
  map(change: RowChange): DraftEvent[] {
    const row = change.new
    if (row === null) return []
    const old = change.kind === 'update' ? change.old : null
    const moved = change.kind === 'insert' || ['rate', 'withdrawn', 'status'].some((column) => changed(old, row, column))
    const events: DraftEvent[] = moved ? [updated(row)] : []
    if (row.status === 'settled' && (change.kind === 'insert' || changed(old, row, 'status'))) events.push(settled(row))
    return events
  },
}

function updated(row: Row): DraftEvent {
  const streamId = idValue(row, 'id')!
  return {
    type: 'stream:updated',
    topics: [streamTopic(streamId)],
    data: { streamId, currency: jsonValue(row.currency), rate: jsonValue(row.rate), withdrawn: jsonValue(row.withdrawn), status: jsonValue(row.status) },
  }
}

function settled(row: Row): DraftEvent {
  const streamId = idValue(row, 'id')!
  return {
    type: 'settle:finished',
    topics: [streamTopic(streamId)],
    data: { streamId, currency: jsonValue(row.currency), withdrawn: jsonValue(row.withdrawn), settledAt: jsonValue(row.settled_at) },
  }
}
