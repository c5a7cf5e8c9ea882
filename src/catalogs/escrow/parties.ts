import type { DraftEvent, Row, RowChange } from '../../catalog/row-change.ts'
import type { CatalogTable } from '../../catalog/catalog.ts'
import type { EscrowEventType } from './events.ts'
import { changed, idValue, isNull } from '../../catalog/values.ts'
import { escrowTopic } from './topics.ts'

/**
 * escrow_parties: joined when accepted_at goes from null to a value (or the row is
 * inserted already accepted); left when the row is deleted. Access to an escrow is the
 * row's existence, so an update that moves the row to another escrow or user is a leave
 * of the old key, then (if the moved row is accepted) a join of the new one: without the
 * leave, the old user's access would outlive its row. Transports revoke on party_left,
 * so the old row must name its escrow and user: REPLICA IDENTITY FULL.
 */
export const partiesMapper: CatalogTable<EscrowEventType> = {
  table: 'public.escrow_parties',
  columns: ['escrow_id', 'user_id', 'role', 'accepted_at'],
  events: ['escrow:party_joined', 'escrow:party_left'],
  fullIdentity: true,
  map(change: RowChange): DraftEvent[] {
    if (change.kind === 'delete') return change.old === null ? [] : [partyLeft(change.old)]
    const row = change.new!
    const old = change.kind === 'update' ? change.old : null
    if (old !== null && (changed(old, row, 'escrow_id') || changed(old, row, 'user_id'))) {
      return isNull(row.accepted_at) ? [partyLeft(old)] : [partyLeft(old), partyJoined(row)]
    }
    const acceptedNow = !isNull(row.accepted_at)
    const acceptedBefore = old !== null && !isNull(old.accepted_at)
    return acceptedNow && !acceptedBefore ? [partyJoined(row)] : []
  },
}

function partyLeft(row: Row): DraftEvent {
  const escrowId = idValue(row, 'escrow_id')!
  return { type: 'escrow:party_left', topics: [escrowTopic(escrowId)], data: { escrowId, userId: idValue(row, 'user_id') } }
}

function partyJoined(row: Row): DraftEvent {
  const escrowId = idValue(row, 'escrow_id')!
  return { type: 'escrow:party_joined', topics: [escrowTopic(escrowId)], data: { escrowId, userId: idValue(row, 'user_id'), role: row.role } }
}
