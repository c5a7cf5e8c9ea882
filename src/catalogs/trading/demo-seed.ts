import { sql } from 'kysely'
import type { Db } from '../../db/database.ts'
import type { Logger } from '../../log.ts'

/** The demo's assets with their starting mid price. */
export const DEMO_ASSETS: readonly { readonly symbol: string; readonly name: string; readonly mid: number; readonly tick: number }[] = [
  { symbol: 'BTC-USD', name: 'Bitcoin', mid: 64_000, tick: 0.5 },
  { symbol: 'ETH-USD', name: 'Ether', mid: 3_200, tick: 0.05 },
  { symbol: 'SOL-USD', name: 'Solana', mid: 150, tick: 0.01 },
]
/** Price levels per side of each demo book: the writer updates them in place (bounded). */
export const DEMO_LEVELS = 25

/**
 * Users 1-3 (Ada and Sam trade, Ari only watches), three assets with a book of
 * DEMO_LEVELS levels a side, last prices and balances. Only on an empty assets table, so
 * a second start reuses what is there; users another catalog's demo created are kept.
 */
export async function seedTradingDemo(db: Db, log: Logger): Promise<void> {
  const count = await sql<{ n: number }>`SELECT count(*)::int AS n FROM trading.assets`.execute(db)
  if ((count.rows[0]?.n ?? 0) > 0) return
  await sql`
    INSERT INTO public.users (id, display_name, email, phone) VALUES
      (1, 'Ada Trader', 'ada@example.com', '+15550000001'), (2, 'Sam Trader', 'sam@example.com', '+15550000002'),
      (3, 'Ari Watcher', 'ari@example.com', '+15550000003')
    ON CONFLICT DO NOTHING`.execute(db)
  await sql`SELECT setval(pg_get_serial_sequence('public.users', 'id'), greatest(3, (SELECT max(id) FROM public.users)))`.execute(db)
  for (const asset of DEMO_ASSETS) {
    await sql`INSERT INTO trading.assets (symbol, name) VALUES (${asset.symbol}, ${asset.name}) ON CONFLICT DO NOTHING`.execute(db)
    await sql`INSERT INTO trading.prices (asset, price) VALUES (${asset.symbol}, ${asset.mid}) ON CONFLICT DO NOTHING`.execute(db)
    await sql`
      INSERT INTO trading.book_levels (asset, side, price, qty)
      SELECT ${asset.symbol}, side, ${asset.mid}::numeric + sign * i * ${asset.tick}::numeric, round((1 + random() * 9)::numeric, 4)
      FROM generate_series(1, ${DEMO_LEVELS}) AS i, (VALUES ('bid', -1), ('ask', 1)) AS s(side, sign)
      ON CONFLICT DO NOTHING`.execute(db)
  }
  await sql`
    INSERT INTO trading.balances (user_id, currency, available) VALUES
      (1, 'USD', 250000), (1, 'BTC', 2), (2, 'USD', 100000), (2, 'ETH', 30)
    ON CONFLICT DO NOTHING`.execute(db)
  log.info(`seeded demo data: users 1-3, ${DEMO_ASSETS.map((a) => a.symbol).join(', ')} with ${DEMO_LEVELS} levels a side`)
}
