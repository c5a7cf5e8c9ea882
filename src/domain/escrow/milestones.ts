import type { DraftEvent, RowChange, TableMapper } from '../types.ts'
import { changed, idValue, jsonValue } from '../values.ts'
import { escrowTopic } from './topics.ts'

/** milestones: a release is the only transition the catalog reports. */
export const milestonesMapper: TableMapper = {
  table: 'public.milestones',
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
