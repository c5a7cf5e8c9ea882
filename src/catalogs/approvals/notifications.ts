import type { CatalogTable } from '../../catalog/catalog.ts'
import type { DraftEvent, RowChange } from '../../catalog/row-change.ts'
import { idValue, jsonValue } from '../../catalog/values.ts'
import type { ApprovalsEventType } from './events.ts'
import { userTopic } from './topics.ts'

/** notifications: each insert goes to its user's own topic, never to the workspace. */
export const notificationsMapper: CatalogTable<ApprovalsEventType> = {
  table: 'approvals.notifications',
  columns: ['id', 'user_id', 'workspace_id', 'kind', 'title', 'body', 'created_at'],
  events: ['notification.new'],
  map(change: RowChange): DraftEvent[] {
    if (change.kind !== 'insert' || change.new === null) return []
    const row = change.new
    return [{
      type: 'notification.new',
      topics: [userTopic(idValue(row, 'user_id')!)],
      data: {
        notificationId: idValue(row, 'id'),
        workspaceId: idValue(row, 'workspace_id'),
        kind: jsonValue(row.kind),
        title: jsonValue(row.title),
        body: jsonValue(row.body),
        createdAt: jsonValue(row.created_at),
      },
    }]
  },
}
