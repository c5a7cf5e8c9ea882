import type { DraftEvent, RowChange } from '../../catalog/row-change.ts'
import type { CatalogTable } from '../../catalog/catalog.ts'
import type { EscrowEventType } from './events.ts'
import { changed, idValue, jsonValue } from '../../catalog/values.ts'
import { escrowTopic } from './topics.ts'

/** milestones: a release is the only transition the catalog reports. */
export const milestonesMapper: CatalogTable<EscrowEventType> = {
  table: 'public.milestones',
  columns: ['id', 'escrow_id', 'status', 'amount', 'currency', 'released_at'],
  events: ['escrow:milestone_released'],
  fullIdentity: true,
  map(change: RowChange): DraftEvent[] {
    const row = change.new
    if (row === null || row.status !== 'released') return []
    const becameReleased = change.kind === 'insert' || (change.kind === 'update' && changed(change.old, row, 'status'))
    if (!becameReleased) return []
    const escrowId = idValue(row, 'escrow_id')!
    return [{
      type: 'escrow:milestone_released',
      topics: [escrowTopic(escrowId)],
      data: {
        escrowId,
        milestoneId: idValue(row, 'id'),
        amount: jsonValue(row.amount),
        currency: jsonValue(row.currency),
        releasedAt: jsonValue(row.released_at),
      },
    }]
  },
}
