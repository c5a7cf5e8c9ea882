import type { DraftEvent, RowChange } from '../../catalog/row-change.ts'
import type { CatalogTable } from '../../catalog/catalog.ts'
import type { EscrowEventType } from './events.ts'
import { changed, idValue, jsonValue } from '../../catalog/values.ts'
import { ADMIN_DISPUTES_TOPIC, escrowTopic } from './topics.ts'

/** disputes: filed on insert, resolved when status becomes resolved. Also fed to admins. */
export const disputesMapper: CatalogTable<EscrowEventType> = {
  table: 'public.disputes',
  columns: ['id', 'escrow_id', 'filed_by', 'reason', 'status', 'resolution', 'resolved_at'],
  events: ['escrow:dispute_filed', 'escrow:dispute_resolved'],
  fullIdentity: true,
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
