import { sql } from 'kysely'
import type { CatalogDashboard } from '../../catalog/catalog.ts'
import { escrowTopic, USER_ESCROWS_TOPIC, USER_TOPIC } from './topics.ts'

/** The dev dashboard's view: the escrows the user is a party of, and their notifications. */
export const escrowDashboard: CatalogDashboard = {
  title: 'Your escrows',
  columns: { id: '#', title: 'Title', amount: 'Amount', role: 'Role', status: 'Status' },
  async list(db, userId, limit) {
    const found = await sql<{ id: string; title: string; amount: string; currency: string; status: string; role: string }>`
      SELECT e.id::text AS id, e.title, e.amount::text AS amount, e.currency, e.status, p.role
      FROM public.escrow_parties p JOIN public.escrows e ON e.id = p.escrow_id
      WHERE p.user_id = ${userId}::bigint ORDER BY e.id DESC LIMIT ${limit}`.execute(db)
    return found.rows.map((e) => ({
      id: e.id, topic: escrowTopic(e.id),
      cells: { id: e.id, title: e.title, amount: `${e.amount} ${e.currency}`, role: e.role, status: e.status },
    }))
  },
  userTopics: [USER_TOPIC],
  // One subscription for all of the user's escrows, however many (issue #12).
  follow: USER_ESCROWS_TOPIC,
  notifications: ['notification:new'],
  summaries: {
    'escrow:status_changed': 'Escrow #{escrowId}: {from} → {to}',
    'escrow:milestone_released': 'Escrow #{escrowId}: milestone released ({amount} {currency})',
    'escrow:dispute_filed': 'Escrow #{escrowId}: dispute filed: {reason}',
    'escrow:dispute_resolved': 'Escrow #{escrowId}: dispute resolved: {resolution}',
    'escrow:party_joined': 'Escrow #{escrowId}: user {userId} joined as {role}',
    'escrow:party_left': 'Escrow #{escrowId}: user {userId} left',
    'notification:new': '{title}: {body}',
  },
}
