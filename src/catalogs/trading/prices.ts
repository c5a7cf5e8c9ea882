import type { CatalogTable } from '../../catalog/catalog.ts'
import type { DraftEvent, RowChange } from '../../catalog/row-change.ts'
import { jsonValue } from '../../catalog/values.ts'
import type { TradingEventType } from './events.ts'
import { priceTopic } from './topics.ts'

/** prices: `price:updated` for every new last price; its topic is conflated to one key, the asset. */
export const pricesMapper: CatalogTable<TradingEventType> = {
  table: 'trading.prices',
  columns: ['asset', 'price', 'updated_at'],
  events: ['price:updated'],
  map(change: RowChange): DraftEvent[] {
    const row = change.new
    if (row === null) return []
    const asset = String(row.asset)
    return [{ type: 'price:updated', topics: [priceTopic(asset)], data: { asset, price: jsonValue(row.price), updatedAt: jsonValue(row.updated_at) } }]
  },
}
