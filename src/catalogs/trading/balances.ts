import type { CatalogTable } from '../../catalog/catalog.ts'
import type { DraftEvent, RowChange } from '../../catalog/row-change.ts'
import { changed, idValue, jsonValue } from '../../catalog/values.ts'
import type { TradingEventType } from './events.ts'
import { userTopic } from './topics.ts'

/** balances: `balance:update` on the owner's own topic when available or locked moves. Never conflated. */
export const balancesMapper: CatalogTable<TradingEventType> = {
  table: 'trading.balances',
  columns: ['user_id', 'currency', 'available', 'locked', 'updated_at'],
  events: ['balance:update'],
  fullIdentity: true,
  map(change: RowChange): DraftEvent[] {
    const row = change.new
    if (row === null) return []
    if (change.kind === 'update' && !changed(change.old, row, 'available') && !changed(change.old, row, 'locked')) return []
    return [{
      type: 'balance:update',
      topics: [userTopic(idValue(row, 'user_id')!)],
      data: { currency: jsonValue(row.currency), available: jsonValue(row.available), locked: jsonValue(row.locked), updatedAt: jsonValue(row.updated_at) },
    }]
  },
}
