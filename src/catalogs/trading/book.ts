import type { CatalogTable } from '../../catalog/catalog.ts'
import type { DraftEvent, RowChange } from '../../catalog/row-change.ts'
import { jsonValue } from '../../catalog/values.ts'
import type { TradingEventType } from './events.ts'
import { orderbookTopic } from './topics.ts'

/**
 * book_levels, the aggregated book updated in place: every change of a level is a
 * `book:level` with its new quantity, a deleted level one with qty "0". The book's topic is
 * conflated per (side, price): a level that changes a thousand times a second reaches a
 * client at most once per interval, as its latest quantity. No old row is read (the
 * primary key names a deleted level), so the hottest table costs no full-row WAL; a
 * level is its (asset, side, price): an application moves one by a delete and an insert,
 * never by updating its price (that would leave the old level's last word standing).
 */
export const bookMapper: CatalogTable<TradingEventType> = {
  table: 'trading.book_levels',
  columns: ['asset', 'side', 'price', 'qty'],
  events: ['book:level'],
  map(change: RowChange): DraftEvent[] {
    const row = change.kind === 'delete' ? change.old : change.new
    if (row === null || row.asset === undefined) return []
    const asset = String(row.asset)
    return [level(asset, row.side, row.price, change.kind === 'delete' ? '0' : jsonValue(row.qty))]
  },
}

function level(asset: string, side: unknown, price: unknown, qty: unknown): DraftEvent {
  return { type: 'book:level', topics: [orderbookTopic(asset)], data: { asset, side: jsonValue(side), price: jsonValue(price), qty } }
}
