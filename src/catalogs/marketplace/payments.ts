import type { CatalogTable } from '../../catalog/catalog.ts'
import type { DraftEvent, RowChange } from '../../catalog/row-change.ts'
import { changed, idValue, jsonValue } from '../../catalog/values.ts'
import type { MarketplaceEventType } from './events.ts'
import { ADMIN_TOPIC, buyerTopic, sellerTopic } from './topics.ts'

/**
 * payments: payment:status-updated when a payment appears (`from` null) or its status
 * moves, to the offer's buyer and seller and to the admins. The provider's reference and
 * the card are not in the allowlist.
 */
export const paymentsMapper: CatalogTable<MarketplaceEventType> = {
  table: 'marketplace.payments',
  columns: ['id', 'offer_id', 'request_id', 'buyer_id', 'seller_id', 'amount', 'currency', 'status', 'updated_at'],
  events: ['payment:status-updated'],
  fullIdentity: true,
  map(change: RowChange): DraftEvent[] {
    const row = change.new
    if (row === null) return []
    const old = change.kind === 'update' ? change.old : null
    if (change.kind === 'update' && !changed(old, row, 'status')) return []
    const buyerId = idValue(row, 'buyer_id')!
    const sellerId = idValue(row, 'seller_id')!
    return [{
      type: 'payment:status-updated',
      topics: [buyerTopic(buyerId), sellerTopic(sellerId), ADMIN_TOPIC],
      data: {
        paymentId: idValue(row, 'id'),
        offerId: idValue(row, 'offer_id'),
        requestId: idValue(row, 'request_id'),
        buyerId,
        sellerId,
        amount: jsonValue(row.amount),
        currency: jsonValue(row.currency),
        from: old === null ? null : jsonValue(old.status),
        to: jsonValue(row.status),
        updatedAt: jsonValue(row.updated_at),
      },
    }]
  },
}
