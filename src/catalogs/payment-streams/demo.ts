import { sql } from 'kysely'
import type { Db } from '../../db/database.ts'
import type { Logger } from '../../log.ts'

/** Users 1-3 and one running stream, on an empty users table only. */
export async function seedStreamsDemo(db: Db, log: Logger): Promise<void> {
  const count = await sql<{ n: number }>`SELECT count(*)::int AS n FROM public.users`.execute(db)
  if ((count.rows[0]?.n ?? 0) > 0) return
  await sql`
    INSERT INTO public.users (id, display_name, email, phone) VALUES
      (1, 'Ada Sender', 'ada@example.com', '+15550000001'),
      (2, 'Sam Recipient', 'sam@example.com', '+15550000002'),
      (3, 'Ari Outsider', 'ari@example.com', '+15550000003')
    ON CONFLICT DO NOTHING`.execute(db)
  await sql`SELECT setval(pg_get_serial_sequence('public.users', 'id'), 3)`.execute(db)
  await sql`
    INSERT INTO public.payment_streams (id, sender_id, recipient_id, currency, rate, deposit, memo)
    VALUES (1, 1, 2, 'EUR', 0.010000, 500.00, 'Design retainer') ON CONFLICT DO NOTHING`.execute(db)
  await sql`SELECT setval(pg_get_serial_sequence('public.payment_streams', 'id'), 1)`.execute(db)
  log.info('seeded demo data: users 1-3, stream 1 (Ada → Sam)')
}

type Step = (db: Db, streamId: string) => Promise<string>

/** One stream's life, a step per tick: withdrawals, a pause, a new rate, a settlement. */
const SCRIPT: readonly Step[] = [
  async (db, id) => { await withdraw(db, id, '5.00'); return 'withdrew 5.00' },
  async (db, id) => { await sql`UPDATE public.payment_streams SET status = 'paused' WHERE id = ${id}`.execute(db); return 'paused' },
  async (db, id) => { await sql`UPDATE public.payment_streams SET status = 'active', rate = rate * 2 WHERE id = ${id}`.execute(db); return 'resumed at twice the rate' },
  async (db, id) => { await withdraw(db, id, '12.50'); return 'withdrew 12.50' },
  async (db, id) => { await sql`UPDATE public.payment_streams SET status = 'settled', settled_at = now() WHERE id = ${id}`.execute(db); return 'settled' },
]

const withdraw = (db: Db, id: string, amount: string) =>
  sql`UPDATE public.payment_streams SET withdrawn = withdrawn + ${amount}::numeric WHERE id = ${id}`.execute(db)

/** Opens a stream from Ada (1) to Sam (2), then walks it to its settlement; then the next. */
export function streamsDemoScript(): (db: Db) => Promise<string> {
  let index = 0
  let streamId: string | undefined
  return async (db) => {
    if (streamId === undefined || index >= SCRIPT.length) {
      const created = await sql<{ id: string }>`
        INSERT INTO public.payment_streams (sender_id, recipient_id, currency, rate, deposit, memo)
        VALUES (1, 2, 'EUR', 0.005000, 100.00, 'Demo stream') RETURNING id::text AS id`.execute(db)
      streamId = created.rows[0]!.id
      index = 0
      return `stream ${streamId} opened`
    }
    const done = await SCRIPT[index]!(db, streamId)
    index++
    return `stream ${streamId}: ${done}`
  }
}
