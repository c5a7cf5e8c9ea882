import type { CatalogTable } from '../../catalog/catalog.ts'
import type { DraftEvent, RowChange } from '../../catalog/row-change.ts'
import { idValue, jsonValue } from '../../catalog/values.ts'
import type { TradingEventType } from './events.ts'
import { tradesTopic } from './topics.ts'

/** trades: `trade:executed` per inserted trade, never conflated. The counterparties stay in the database. */
export const tradesMapper: CatalogTable<TradingEventType> = {
  table: 'trading.trades',
  columns: ['id', 'asset', 'price', 'qty', 'taker_side', 'executed_at'],
  events: ['trade:executed'],
  map(change: RowChange): DraftEvent[] {
    const row = change.new
    if (change.kind !== 'insert' || row === null) return []
    const asset = String(row.asset)
    return [{
      type: 'trade:executed',
      topics: [tradesTopic(asset)],
      data: { tradeId: idValue(row, 'id'), asset, price: jsonValue(row.price), qty: jsonValue(row.qty), takerSide: jsonValue(row.taker_side), executedAt: jsonValue(row.executed_at) },
    }]
  },
}
