import { defineCatalog } from '../../catalog/catalog.ts'
import { balancesMapper } from './balances.ts'
import { bookMapper } from './book.ts'
import { tradingDashboard } from './dashboard.ts'
import { seedTradingDemo } from './demo-seed.ts'
import { tradingDemoScript } from './demo-writer.ts'
import type { TradingEventMap } from './events.ts'
import { ordersMapper } from './orders.ts'
import { pricesMapper } from './prices.ts'
import { ORDERBOOK_TOPIC, PRICE_TOPIC, TRADES_TOPIC, USER_TOPIC } from './topics.ts'
import { tradesMapper } from './trades.ts'

/** Milliseconds between two deliveries of a book level or a price (WALCAST_CONFLATE_MS overrides). */
export const TRADING_CONFLATE_MS = 100

/**
 * An exchange: order books, trades and last prices are market data any signed-in user
 * reads; orders and balances go to their owner's own topic. The book and the price are
 * state, conflated (I17): a level that changes thousands of times a second reaches a
 * client as its latest quantity, at most every TRADING_CONFLATE_MS, and a resume answers
 * with the book as it stands. Trades, orders and balances are logs: gapless, exactly once.
 */
export const tradingCatalog = defineCatalog<TradingEventMap>({
  name: 'trading',
  tables: [bookMapper, tradesMapper, pricesMapper, ordersMapper, balancesMapper],
  events: {
    'book:level': { topics: [ORDERBOOK_TOPIC] },
    'trade:executed': { topics: [TRADES_TOPIC] },
    'price:updated': { topics: [PRICE_TOPIC] },
    'order:update': { topics: [USER_TOPIC] },
    'balance:update': { topics: [USER_TOPIC] },
  },
  access: {
    [ORDERBOOK_TOPIC]: { kind: 'signedIn', id: 'text' },
    [TRADES_TOPIC]: { kind: 'signedIn', id: 'text' },
    [PRICE_TOPIC]: { kind: 'signedIn', id: 'text' },
    [USER_TOPIC]: { kind: 'self' },
  },
  conflate: {
    everyMs: TRADING_CONFLATE_MS,
    topics: {
      [ORDERBOOK_TOPIC]: { key: 'side:price' },
      [PRICE_TOPIC]: { key: 'asset' },
    },
  },
  schema: new URL('./schema.sql', import.meta.url),
  demo: { seed: seedTradingDemo, script: () => tradingDemoScript(), signIn: 'sign in as Ada Trader, user 1' },
  dashboard: tradingDashboard,
})
