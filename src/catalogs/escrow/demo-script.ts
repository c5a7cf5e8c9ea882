import { sql } from 'kysely'
import type { Db } from '../../db/database.ts'

type Step = (db: Db, escrowId: string) => Promise<string>

const notify = (db: Db, userId: number, kind: string, title: string, body: string) =>
  sql`INSERT INTO public.notifications (user_id, kind, title, body) VALUES (${userId}, ${kind}, ${title}, ${body})`.execute(db)

/**
 * One escrow's life, a step per tick: created and joined, funded, started, a milestone
 * released, a dispute filed and resolved, completed, with notifications to the parties.
 * Users 1-3 are the seeded demo users (Ada buys, Sam sells, Ari arbitrates).
 */
const SCRIPT: readonly Step[] = [
  async (db, id) => {
    await sql`INSERT INTO public.escrow_parties (escrow_id, user_id, role, accepted_at) VALUES (${id}, 1, 'buyer', now()), (${id}, 2, 'seller', now()), (${id}, 3, 'arbiter', now()) ON CONFLICT DO NOTHING`.execute(db)
    await notify(db, 1, 'escrow', `Escrow #${id} opened`, 'Sam Seller joined as seller')
    return 'parties joined'
  },
  async (db, id) => {
    await sql`UPDATE public.escrows SET status = 'funded', updated_at = now() WHERE id = ${id}`.execute(db)
    await notify(db, 2, 'payment', `Escrow #${id} funded`, 'The buyer deposited the funds')
    return 'funded'
  },
  async (db, id) => {
    await sql`UPDATE public.escrows SET status = 'in_progress', updated_at = now() WHERE id = ${id}`.execute(db)
    await sql`INSERT INTO public.milestones (escrow_id, title, amount, currency) VALUES (${id}, 'First delivery', 100.00, 'EUR')`.execute(db)
    return 'in progress'
  },
  async (db, id) => {
    await sql`UPDATE public.milestones SET status = 'released', released_at = now() WHERE escrow_id = ${id} AND status = 'pending'`.execute(db)
    await notify(db, 2, 'payment', `Milestone released on #${id}`, 'EUR 100.00 is on its way')
    return 'milestone released'
  },
  async (db, id) => {
    await sql`INSERT INTO public.disputes (escrow_id, filed_by, reason) VALUES (${id}, 1, 'Second delivery is late')`.execute(db)
    await sql`UPDATE public.escrows SET status = 'disputed', updated_at = now() WHERE id = ${id}`.execute(db)
    await notify(db, 3, 'dispute', `Dispute on #${id}`, 'Ada Buyer filed a dispute')
    return 'dispute filed'
  },
  async (db, id) => {
    await sql`UPDATE public.disputes SET status = 'resolved', resolution = 'extend deadline by a week', resolved_at = now() WHERE escrow_id = ${id} AND status = 'open'`.execute(db)
    await sql`UPDATE public.escrows SET status = 'in_progress', updated_at = now() WHERE id = ${id}`.execute(db)
    return 'dispute resolved'
  },
  async (db, id) => {
    await sql`UPDATE public.escrows SET status = 'completed', updated_at = now() WHERE id = ${id}`.execute(db)
    await notify(db, 1, 'escrow', `Escrow #${id} completed`, 'All milestones delivered')
    return 'completed'
  },
]

/**
 * Moves demo escrows through their lifecycle so events flow (npm start on the embedded
 * default, or `walcast demo` against DATABASE_URL). Needs the seeded users 1-3.
 */
export function escrowDemoScript(): (db: Db) => Promise<string> {
  let index = 0
  let escrowId: string | undefined
  return async (db) => {
    if (escrowId === undefined || index >= SCRIPT.length) {
      const created = await sql<{ id: string }>`
        INSERT INTO public.escrows (title, amount, currency, status, terms)
        VALUES ('Demo order ' || to_char(now(), 'HH24:MI:SS'), 300.00, 'EUR', 'draft', 'Demo terms')
        RETURNING id::text AS id`.execute(db)
      escrowId = created.rows[0]!.id
      index = 0
      return `escrow ${escrowId} created`
    }
    const done = await SCRIPT[index]!(db, escrowId)
    index++
    return `escrow ${escrowId}: ${done}`
  }
}
