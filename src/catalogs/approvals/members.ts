import type { CatalogTable } from '../../catalog/catalog.ts'
import type { DraftEvent, Row, RowChange } from '../../catalog/row-change.ts'
import { changed, idValue } from '../../catalog/values.ts'
import type { ApprovalsEventType } from './events.ts'
import { workspaceTopic } from './topics.ts'

/**
 * workspace_members: access to a workspace is the row's existence, so its end is
 * member.left, the event that revokes the member's live subscriptions (I7). An update
 * that moves the row to another workspace or user ends the old membership just the same:
 * without the event, the old user's access would outlive its row. The old row must name
 * its workspace and user: REPLICA IDENTITY FULL.
 */
export const membersMapper: CatalogTable<ApprovalsEventType> = {
  table: 'approvals.workspace_members',
  columns: ['workspace_id', 'user_id'],
  events: ['member.left'],
  fullIdentity: true,
  map(change: RowChange): DraftEvent[] {
    if (change.kind === 'insert' || change.old === null) return []
    if (change.kind === 'delete') return [memberLeft(change.old)]
    const row = change.new!
    return changed(change.old, row, 'workspace_id') || changed(change.old, row, 'user_id') ? [memberLeft(change.old)] : []
  },
}

function memberLeft(row: Row): DraftEvent {
  const workspaceId = idValue(row, 'workspace_id')!
  return { type: 'member.left', topics: [workspaceTopic(workspaceId)], data: { workspaceId, userId: idValue(row, 'user_id') } }
}
