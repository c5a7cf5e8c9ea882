import type { DraftEvent, RowChange } from '../../catalog/row-change.ts'
import type { CatalogTable } from '../../catalog/catalog.ts'
import type { EscrowEventType } from './events.ts'
import { changed, idValue } from '../../catalog/values.ts'
import { escrowTopic } from './topics.ts'

/** escrows: status transitions only. Title, amount and terms edits are not in the catalog. */
export const escrowsMapper: CatalogTable<EscrowEventType> = {
  table: 'public.escrows',
  columns: ['id', 'status'],
  events: ['escrow:status_changed'],
  fullIdentity: true,
  map(change: RowChange): DraftEvent[] {
    const row = change.new
    if (row === null) return []
    const escrowId = idValue(row, 'id')!
    if (change.kind === 'insert') {
      return [statusChanged(escrowId, null, row.status)]
    }
    if (change.kind === 'update' && changed(change.old, row, 'status')) {
      return [statusChanged(escrowId, change.old!.status, row.status)]
    }
    return []
  },
}

function statusChanged(escrowId: string, from: unknown, to: unknown): DraftEvent {
  return {
    type: 'escrow:status_changed',
    topics: [escrowTopic(escrowId)],
    data: { escrowId, from: from ?? null, to },
  }
}
