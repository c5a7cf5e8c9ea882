import { sql } from 'kysely'
import type { CatalogDashboard } from '../../catalog/catalog.ts'

/** The dev dashboard's view: the streams the user sends or receives (display names only). */
export const streamsDashboard: CatalogDashboard = {
  title: 'Your payment streams',
  columns: { id: '#', direction: 'Direction', with: 'With', rate: 'Rate /s', withdrawn: 'Withdrawn', status: 'Status' },
  async list(db, userId, limit) {
    const found = await sql<{ id: string; sent: boolean; other: string; rate: string; withdrawn: string; currency: string; status: string }>`
      SELECT s.id::text AS id, s.sender_id = ${userId}::bigint AS sent, o.display_name AS other,
             s.rate::text AS rate, s.withdrawn::text AS withdrawn, s.currency, s.status
      FROM public.payment_streams s
      JOIN public.users o ON o.id = CASE WHEN s.sender_id = ${userId}::bigint THEN s.recipient_id ELSE s.sender_id END
      WHERE s.sender_id = ${userId}::bigint OR s.recipient_id = ${userId}::bigint
      ORDER BY s.id DESC LIMIT ${limit}`.execute(db)
    return found.rows.map((s) => ({
      id: s.id, topic: `stream:${s.id}`,
      cells: { id: s.id, direction: s.sent ? 'sending' : 'receiving', with: s.other, rate: `${s.rate} ${s.currency}`, withdrawn: `${s.withdrawn} ${s.currency}`, status: s.status },
    }))
  },
  summaries: {
    'stream:updated': 'Stream #{streamId}: {status}, withdrawn {withdrawn} {currency}',
    'settle:finished': 'Stream #{streamId} settled: {withdrawn} {currency}',
  },
}
