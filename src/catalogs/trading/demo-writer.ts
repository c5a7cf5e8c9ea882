import { sql } from 'kysely'
import type { Db } from '../../db/database.ts'
import { DEMO_ASSETS, DEMO_LEVELS } from './demo-seed.ts'

export interface BookBurstOptions {
  readonly asset: string
  /** How long the burst lasts. */
  readonly ms: number
  /** Target level changes per second (one UPDATE of `perTick` levels per tick). */
  readonly perSecond: number
  /** Levels updated by one statement (one transaction): the burst's granularity. */
  readonly perTick?: number
}

/**
 * Rewrites the quantities of an asset's book levels in place, `perSecond` changes a
 * second for `ms` (each change one WAL row, so one `book:level` event); returns how many
 * level changes committed. Bounded: the book keeps its size whatever the rate.
 */
export async function burstBook(db: Db, options: BookBurstOptions): Promise<number> {
  const perTick = options.perTick ?? 50
  const tickMs = Math.max(1, Math.round((1000 * perTick) / options.perSecond))
  const started = Date.now()
  let changes = 0
  let next = started
  while (Date.now() - started < options.ms) {
    const result = await sql`
      UPDATE trading.book_levels b SET qty = round((0.1 + random() * 20)::numeric, 4), updated_at = now()
      FROM (SELECT side, price FROM trading.book_levels WHERE asset = ${options.asset} ORDER BY random() LIMIT ${perTick}) pick
      WHERE b.asset = ${options.asset} AND b.side = pick.side AND b.price = pick.price`.execute(db)
    changes += Number(result.numAffectedRows ?? 0)
    next += tickMs
    const wait = next - Date.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
  }
  return changes
}

/** One fill of a user's order: the trade, the last price, the order and both balances, one transaction. */
export async function fillOrder(db: Db, orderId: string, qty: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const found = await sql<{ user_id: string; asset: string; side: string; price: string }>`
      UPDATE trading.orders SET filled = least(qty, filled + ${qty}::numeric),
        status = CASE WHEN filled + ${qty}::numeric >= qty THEN 'filled' ELSE 'partially_filled' END, updated_at = now()
      WHERE id = ${orderId} AND status IN ('open', 'partially_filled')
      RETURNING user_id::text, asset, side, price::text`.execute(trx)
    const order = found.rows[0]
    if (order === undefined) return
    const base = order.asset.split('-')[0]!
    const cost = sql`${order.price}::numeric * ${qty}::numeric`
    await sql`INSERT INTO trading.trades (asset, price, qty, taker_side, buyer_id, seller_id) VALUES (${order.asset}, ${order.price}::numeric, ${qty}::numeric, ${order.side}, ${order.user_id}::bigint, NULL)`.execute(trx)
    await sql`INSERT INTO trading.prices (asset, price) VALUES (${order.asset}, ${order.price}::numeric) ON CONFLICT (asset) DO UPDATE SET price = excluded.price, updated_at = now()`.execute(trx)
    const [spend, gain, spent, gained] = order.side === 'buy' ? ['USD', base, cost, sql`${qty}::numeric`] : [base, 'USD', sql`${qty}::numeric`, cost]
    await sql`INSERT INTO trading.balances (user_id, currency, locked) VALUES (${order.user_id}::bigint, ${spend}, 0) ON CONFLICT DO NOTHING`.execute(trx)
    await sql`UPDATE trading.balances SET locked = greatest(0, locked - ${spent}), updated_at = now() WHERE user_id = ${order.user_id}::bigint AND currency = ${spend}`.execute(trx)
    await sql`
      INSERT INTO trading.balances (user_id, currency, available) VALUES (${order.user_id}::bigint, ${gain}, ${gained})
      ON CONFLICT (user_id, currency) DO UPDATE SET available = trading.balances.available + excluded.available, updated_at = now()`.execute(trx)
  })
}

/** Places an order for `userId` and locks what it may spend; returns its id. */
export async function placeOrder(db: Db, userId: string, asset: string, side: 'buy' | 'sell', price: string, qty: string): Promise<string> {
  return db.transaction().execute(async (trx) => {
    const placed = await sql<{ id: string }>`
      INSERT INTO trading.orders (user_id, asset, side, price, qty, client_ref) VALUES (${userId}::bigint, ${asset}, ${side}, ${price}::numeric, ${qty}::numeric, 'demo')
      RETURNING id::text AS id`.execute(trx)
    const currency = side === 'buy' ? 'USD' : asset.split('-')[0]!
    const amount = side === 'buy' ? sql`${price}::numeric * ${qty}::numeric` : sql`${qty}::numeric`
    await sql`
      INSERT INTO trading.balances (user_id, currency, locked) VALUES (${userId}::bigint, ${currency}, ${amount})
      ON CONFLICT (user_id, currency) DO UPDATE SET locked = trading.balances.locked + excluded.locked, available = trading.balances.available - excluded.locked, updated_at = now()`.execute(trx)
    return placed.rows[0]!.id
  })
}

export interface TradingScriptOptions {
  /** How long each step's book burst lasts (the demo: 2 s of a 3 s tick). */
  readonly burstMs?: number
  /** Book changes a second during a burst, spread over the assets. */
  readonly perSecond?: number
}

/**
 * The demo's market: each step bursts the books (thousands of level changes a second,
 * spread over the assets), then Ada or Sam places an order and it fills in two parts
 * (trades, last price, order and balance updates). Orders and trades keep their last 200
 * rows: the demo stays bounded however long it runs.
 */
export function tradingDemoScript(options: TradingScriptOptions = {}): (db: Db) => Promise<string> {
  const burstMs = options.burstMs ?? 2000
  const perSecond = options.perSecond ?? 3000
  let step = 0
  return async (db) => {
    step++
    const asset = DEMO_ASSETS[step % DEMO_ASSETS.length]!
    const bursts = await Promise.all(DEMO_ASSETS.map((a) => burstBook(db, { asset: a.symbol, ms: burstMs, perSecond: perSecond / DEMO_ASSETS.length, perTick: Math.min(DEMO_LEVELS, 25) })))
    const userId = step % 2 === 0 ? '2' : '1'
    const side = step % 2 === 0 ? 'sell' : 'buy'
    const price = String(asset.mid + (side === 'buy' ? 1 : -1) * asset.tick * (1 + (step % 5)))
    const orderId = await placeOrder(db, userId, asset.symbol, side, price, '0.2')
    await fillOrder(db, orderId, '0.1')
    await fillOrder(db, orderId, '0.1')
    await sql`DELETE FROM trading.orders WHERE id <= (SELECT max(id) - 200 FROM trading.orders)`.execute(db)
    await sql`DELETE FROM trading.trades WHERE id <= (SELECT max(id) - 200 FROM trading.trades)`.execute(db)
    return `${bursts.reduce((a, b) => a + b, 0)} book changes; order ${orderId} (${side} ${asset.symbol}) filled`
  }
}
