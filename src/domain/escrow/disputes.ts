import type { DraftEvent, RowChange, TableMapper } from '../types.ts'
import { changed, idValue, jsonValue } from '../values.ts'
import { ADMIN_DISPUTES_TOPIC, escrowTopic } from './topics.ts'

/** disputes: filed on insert, resolved when status becomes resolved. Also fed to admins. */
export const disputesMapper: TableMapper = {
  table: 'public.disputes',
  map(change: RowChange): DraftEvent[] {
    const row = change.new
    if (row === null) return []
    const escrowId = idValue(row, 'escrow_id')!
    const topics = [escrowTopic(escrowId), ADMIN_DISPUTES_TOPIC]
    const disputeId = idValue(row, 'id')
    const events: DraftEvent[] = []
    if (change.kind === 'insert') {
      events.push({
        type: 'escrow:dispute_filed',
        topics,
        data: { escrowId, disputeId, filedBy: idValue(row, 'filed_by'), reason: jsonValue(row.reason) },
      })
    }
    const resolved = row.status === 'resolved' && (change.kind === 'insert' || changed(change.old, row, 'status'))
    if (resolved) {
      events.push({
        type: 'escrow:dispute_resolved',
        topics,
        data: { escrowId, disputeId, resolution: jsonValue(row.resolution), resolvedAt: jsonValue(row.resolved_at) },
      })
    }
    return events
  },
}
