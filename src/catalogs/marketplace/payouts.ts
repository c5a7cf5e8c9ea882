import type { CatalogTable } from '../../catalog/catalog.ts'
import type { DraftEvent, RowChange } from '../../catalog/row-change.ts'
import { changed, idValue, jsonValue } from '../../catalog/values.ts'
import type { MarketplaceEventType } from './events.ts'
import { ADMIN_TOPIC, sellerTopic } from './topics.ts'

/**
 * payouts: payout:completed when a payout's status becomes completed, to its seller and
 * the admins; the steps before it are no event. The bank account is not in the allowlist.
 */
export const payoutsMapper: CatalogTable<MarketplaceEventType> = {
  table: 'marketplace.payouts',
  columns: ['id', 'seller_id', 'payment_id', 'amount', 'currency', 'status', 'completed_at'],
  events: ['payout:completed'],
  fullIdentity: true,
  map(change: RowChange): DraftEvent[] {
    const row = change.new
    if (row === null || row.status !== 'completed') return []
    if (change.kind === 'update' && !changed(change.old, row, 'status')) return []
    const sellerId = idValue(row, 'seller_id')!
    return [{
      type: 'payout:completed',
      topics: [sellerTopic(sellerId), ADMIN_TOPIC],
      data: {
        payoutId: idValue(row, 'id'),
        sellerId,
        paymentId: idValue(row, 'payment_id'),
        amount: jsonValue(row.amount),
        currency: jsonValue(row.currency),
        completedAt: jsonValue(row.completed_at),
      },
    }]
  },
}
