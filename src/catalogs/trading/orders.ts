import type { CatalogTable } from '../../catalog/catalog.ts'
import type { DraftEvent, RowChange } from '../../catalog/row-change.ts'
import { changed, idValue, jsonValue } from '../../catalog/values.ts'
import type { TradingEventType } from './events.ts'
import { userTopic } from './topics.ts'

const MOVES = ['price', 'qty', 'filled', 'status']

/**
 * orders: `order:update` on the owner's own topic when an order is placed or its price,
 * quantity, fill or status changes. Never conflated: every step of an order reaches its
 * owner, in order (I1–I3). The client's reference stays in the database.
 */
export const ordersMapper: CatalogTable<TradingEventType> = {
  table: 'trading.orders',
  columns: ['id', 'user_id', 'asset', 'side', 'price', 'qty', 'filled', 'status', 'updated_at'],
  events: ['order:update'],
  fullIdentity: true,
  map(change: RowChange): DraftEvent[] {
    const row = change.new
    if (row === null) return []
    if (change.kind === 'update' && !MOVES.some((column) => changed(change.old, row, column))) return []
    return [{
      type: 'order:update',
      topics: [userTopic(idValue(row, 'user_id')!)],
      data: {
        orderId: idValue(row, 'id'), asset: jsonValue(row.asset), side: jsonValue(row.side), price: jsonValue(row.price),
        qty: jsonValue(row.qty), filled: jsonValue(row.filled), status: jsonValue(row.status), updatedAt: jsonValue(row.updated_at),
      },
    }]
  },
}
