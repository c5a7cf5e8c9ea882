import { sql } from 'kysely'
import type { CatalogDashboard } from '../../catalog/catalog.ts'
import { priceTopic } from './topics.ts'

/**
 * The dev dashboard's view: the markets (last price, best bid and ask, the user's open
 * orders there), each live on its conflated `price:` topic, and the user's own orders and
 * balances on `user:{id}`. The book itself is too hot for a reload per event: its topic is
 * for clients that keep a book (docs/catalogs.md#the-trading-catalog).
 */
export const tradingDashboard: CatalogDashboard = {
  title: 'Markets',
  columns: { asset: 'Asset', price: 'Last', bid: 'Best bid', ask: 'Best ask', open: 'Your open orders' },
  async list(db, userId, limit) {
    const found = await sql<{ symbol: string; price: string | null; bid: string | null; ask: string | null; open: number }>`
      SELECT a.symbol, p.price::text AS price,
        (SELECT max(price)::text FROM trading.book_levels WHERE asset = a.symbol AND side = 'bid' AND qty > 0) AS bid,
        (SELECT min(price)::text FROM trading.book_levels WHERE asset = a.symbol AND side = 'ask' AND qty > 0) AS ask,
        (SELECT count(*)::int FROM trading.orders o WHERE o.asset = a.symbol AND o.user_id = ${userId}::bigint AND o.status IN ('open', 'partially_filled')) AS open
      FROM trading.assets a LEFT JOIN trading.prices p ON p.asset = a.symbol
      ORDER BY a.symbol LIMIT ${limit}`.execute(db)
    return found.rows.map((a) => ({
      id: a.symbol, topic: priceTopic(a.symbol),
      cells: { asset: a.symbol, price: a.price ?? '', bid: a.bid ?? '', ask: a.ask ?? '', open: String(a.open) },
    }))
  },
  userTopics: ['user:{id}'],
  notifications: ['order:update'],
  summaries: {
    'price:updated': '{asset} last {price}',
    'order:update': 'Order #{orderId} {side} {asset}: {status}, filled {filled} of {qty}',
    'balance:update': '{currency}: {available} available, {locked} locked',
    'trade:executed': '{asset} trade {qty} @ {price}',
  },
}
