import { sql } from 'kysely'
import type { Db } from '../../db/database.ts'
import type { Logger } from '../../log.ts'

/**
 * Demo data for the embedded default: three users and two escrows with their parties.
 * Only runs on an empty users table, so a second `npm start` reuses what is there.
 */
export async function seedDemoData(db: Db, log: Logger): Promise<void> {
  const count = await sql<{ n: number }>`SELECT count(*)::int AS n FROM public.users`.execute(db)
  if ((count.rows[0]?.n ?? 0) > 0) return
  await sql`
    INSERT INTO public.users (id, display_name, email, phone) VALUES
      (1, 'Ada Buyer', 'ada@example.com', '+15550000001'),
      (2, 'Sam Seller', 'sam@example.com', '+15550000002'),
      (3, 'Ari Arbiter', 'ari@example.com', '+15550000003')
    ON CONFLICT DO NOTHING`.execute(db)
  await sql`SELECT setval(pg_get_serial_sequence('public.users', 'id'), 3)`.execute(db)
  await sql`
    INSERT INTO public.escrows (id, title, amount, currency, status, terms) VALUES
      (1, 'Website redesign', 4800.00, 'EUR', 'funded', 'Deliver a responsive site in three milestones.'),
      (2, 'Vintage camera', 650.00, 'USD', 'draft', 'Ship insured within 5 days.')
    ON CONFLICT DO NOTHING`.execute(db)
  await sql`SELECT setval(pg_get_serial_sequence('public.escrows', 'id'), 2)`.execute(db)
  await sql`
    INSERT INTO public.escrow_parties (escrow_id, user_id, role, accepted_at) VALUES
      (1, 1, 'buyer', now()), (1, 2, 'seller', now()), (1, 3, 'arbiter', now()),
      (2, 1, 'buyer', now()), (2, 2, 'seller', now())
    ON CONFLICT DO NOTHING`.execute(db)
  await sql`
    INSERT INTO public.milestones (escrow_id, title, amount, currency) VALUES
      (1, 'Wireframes', 1200.00, 'EUR'), (1, 'Design', 1800.00, 'EUR'), (1, 'Build', 1800.00, 'EUR')`.execute(db)
  log.info('seeded demo data: users 1-3, escrows 1-2')
}
