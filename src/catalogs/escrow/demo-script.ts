import { sql } from 'kysely'
import type { Db } from '../../db/database.ts'

type Step = (db: Db, escrowId: string) => Promise<string>

/** Completed demo escrows kept (newest first); older ones are deleted so demo data stays bounded. */
export const DEMO_ESCROWS_KEPT = 20
/** Notifications of the demo users kept (newest first). */
export const DEMO_NOTIFICATIONS_KEPT = 100
/** What marks an escrow as the demo writer's: it never touches another. */
const DEMO_TERMS = 'Demo terms'

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

interface DemoEscrow { id: string; status: string; joined: boolean; pending: boolean; disputed: boolean }

/** Which step of SCRIPT comes next for the newest demo escrow, read from its rows; -1: start a new one. */
function nextStep(escrow: DemoEscrow | undefined): number {
  if (escrow === undefined || !['draft', 'funded', 'in_progress', 'disputed'].includes(escrow.status)) return -1
  if (!escrow.joined) return 0
  if (escrow.status === 'draft') return 1
  if (escrow.status === 'funded') return 2
  if (escrow.status === 'disputed') return 5
  if (escrow.pending) return 3
  return escrow.disputed ? 6 : 4
}

/**
 * Moves demo escrows through their lifecycle so events flow (npm start on the embedded
 * default, or `walcast demo` against DATABASE_URL). Needs the seeded users 1-3.
 * Where the script stands is read from the database at every step, and each step is one
 * transaction: after a restart (or a crash mid-step) the escrow that was mid-flow carries
 * on where it stood. Each new escrow deletes the completed demo escrows past the newest
 * DEMO_ESCROWS_KEPT, and old demo notifications, so a demo left running stays bounded.
 */
export function escrowDemoScript(): (db: Db) => Promise<string> {
  return (db) => db.transaction().execute(async (trx) => {
    // One writer at a time, even across processes (two `walcast demo`s).
    await sql`SELECT pg_advisory_xact_lock(hashtext('walcast.demo'))`.execute(trx)
    const found = await sql<DemoEscrow>`
      SELECT e.id::text AS id, e.status,
        EXISTS (SELECT 1 FROM public.escrow_parties p WHERE p.escrow_id = e.id) AS joined,
        EXISTS (SELECT 1 FROM public.milestones m WHERE m.escrow_id = e.id AND m.status = 'pending') AS pending,
        EXISTS (SELECT 1 FROM public.disputes d WHERE d.escrow_id = e.id) AS disputed
      FROM public.escrows e WHERE e.terms = ${DEMO_TERMS} ORDER BY e.id DESC LIMIT 1`.execute(trx)
    const current = found.rows[0]
    const step = nextStep(current)
    if (step >= 0) return `escrow ${current!.id}: ${await SCRIPT[step]!(trx, current!.id)}`
    await sql`
      DELETE FROM public.escrows WHERE terms = ${DEMO_TERMS} AND status = 'completed'
        AND id < ALL (SELECT id FROM public.escrows WHERE terms = ${DEMO_TERMS} ORDER BY id DESC LIMIT ${DEMO_ESCROWS_KEPT})`.execute(trx)
    await sql`
      DELETE FROM public.notifications WHERE user_id IN (1, 2, 3)
        AND id < ALL (SELECT id FROM public.notifications WHERE user_id IN (1, 2, 3) ORDER BY id DESC LIMIT ${DEMO_NOTIFICATIONS_KEPT})`.execute(trx)
    const created = await sql<{ id: string }>`
      INSERT INTO public.escrows (title, amount, currency, status, terms)
      VALUES ('Demo order ' || to_char(now(), 'HH24:MI:SS'), 300.00, 'EUR', 'draft', ${DEMO_TERMS})
      RETURNING id::text AS id`.execute(trx)
    return `escrow ${created.rows[0]!.id} created`
  })
}
