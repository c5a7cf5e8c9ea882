import type { CatalogTable } from '../../catalog/catalog.ts'
import type { DraftEvent, Row, RowChange } from '../../catalog/row-change.ts'
import { changed, idValue, jsonValue } from '../../catalog/values.ts'
import type { MarketplaceEventType } from './events.ts'
import { ADMIN_TOPIC, buyerTopic, sellerTopic } from './topics.ts'

/**
 * disputes: dispute:opened on insert, dispute:resolved when the status becomes resolved;
 * to the offer's buyer and seller and to the admins. The support team's notes are not in
 * the allowlist.
 */
export const disputesMapper: CatalogTable<MarketplaceEventType> = {
  table: 'marketplace.disputes',
  columns: ['id', 'offer_id', 'request_id', 'buyer_id', 'seller_id', 'opened_by', 'reason', 'status', 'resolution', 'opened_at', 'resolved_at'],
  events: ['dispute:opened', 'dispute:resolved'],
  fullIdentity: true,
  map(change: RowChange): DraftEvent[] {
    const row = change.new
    if (row === null) return []
    const events: DraftEvent[] = []
    if (change.kind === 'insert') events.push(opened(row))
    if (row.status === 'resolved' && (change.kind === 'insert' || changed(change.old, row, 'status'))) events.push(resolved(row))
    return events
  },
}

function parties(row: Row) {
  const data = {
    disputeId: idValue(row, 'id')!,
    offerId: idValue(row, 'offer_id')!,
    requestId: idValue(row, 'request_id')!,
    buyerId: idValue(row, 'buyer_id')!,
    sellerId: idValue(row, 'seller_id')!,
  }
  return { data, topics: [buyerTopic(data.buyerId), sellerTopic(data.sellerId), ADMIN_TOPIC] }
}

function opened(row: Row): DraftEvent {
  const { data, topics } = parties(row)
  return { type: 'dispute:opened', topics, data: { ...data, openedBy: idValue(row, 'opened_by'), reason: jsonValue(row.reason), openedAt: jsonValue(row.opened_at) } }
}

function resolved(row: Row): DraftEvent {
  const { data, topics } = parties(row)
  return { type: 'dispute:resolved', topics, data: { ...data, resolution: jsonValue(row.resolution), resolvedAt: jsonValue(row.resolved_at) } }
}
