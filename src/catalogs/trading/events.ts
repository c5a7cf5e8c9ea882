/** The trading catalog's events (docs/catalogs.md#the-trading-catalog). Amounts are decimal strings. */
export interface TradingEventMap {
  /** A price level's aggregated quantity; `qty` "0" when the level left the book. Conflated per side and price. */
  'book:level': { asset: string; side: BookSide; price: string; qty: string }
  /** A trade executed (public: no counterparty). */
  'trade:executed': { tradeId: string; asset: string; price: string; qty: string; takerSide: 'buy' | 'sell'; executedAt: string }
  /** The asset's last price. Conflated: one key per asset. */
  'price:updated': { asset: string; price: string; updatedAt: string }
  /** One of the user's orders was placed, filled (in part) or cancelled. Never conflated. */
  'order:update': { orderId: string; asset: string; side: 'buy' | 'sell'; price: string; qty: string; filled: string; status: OrderStatus; updatedAt: string }
  /** One of the user's balances moved. Never conflated. */
  'balance:update': { currency: string; available: string; locked: string; updatedAt: string }
}

export type TradingEventType = keyof TradingEventMap
export type BookSide = 'bid' | 'ask'
export type OrderStatus = 'open' | 'partially_filled' | 'filled' | 'cancelled'
