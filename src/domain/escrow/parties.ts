import type { DraftEvent, RowChange, TableMapper } from '../types.ts'
import { idValue, isNull } from '../values.ts'
import { escrowTopic } from './topics.ts'

/**
 * escrow_parties: joined when accepted_at goes from null to a value (or the row is
 * inserted already accepted); left when the row is deleted. The gateway revokes access
 * on party_left, so a delete must name its escrow and user: REPLICA IDENTITY FULL.
 */
export const partiesMapper: TableMapper = {
  table: 'public.escrow_parties',
  map(change: RowChange): DraftEvent[] {
    if (change.kind === 'delete') {
      const row = change.old
      if (row === null) return []
      const escrowId = idValue(row, 'escrow_id')!
      return [{ type: 'escrow:party_left', topics: [escrowTopic(escrowId)], data: { escrowId, userId: idValue(row, 'user_id') } }]
    }
    const row = change.new!
    const acceptedNow = !isNull(row.accepted_at)
    const acceptedBefore = change.kind === 'update' && change.old !== null && !isNull(change.old.accepted_at)
    if (!acceptedNow || acceptedBefore) return []
    const escrowId = idValue(row, 'escrow_id')!
    return [{
      type: 'escrow:party_joined',
      topics: [escrowTopic(escrowId)],
      data: { escrowId, userId: idValue(row, 'user_id'), role: row.role },
    }]
  },
}
