import type { DraftEvent, RowChange } from '../../catalog/row-change.ts'
import type { CatalogTable } from '../../catalog/catalog.ts'
import type { EscrowEventType } from './events.ts'
import { idValue, jsonValue } from '../../catalog/values.ts'
import { userTopic } from './topics.ts'

/** notifications: each insert is delivered to its user only. */
export const notificationsMapper: CatalogTable<EscrowEventType> = {
  table: 'public.notifications',
  columns: ['id', 'user_id', 'kind', 'title', 'body', 'created_at'],
  events: ['notification:new'],
  map(change: RowChange): DraftEvent[] {
    if (change.kind !== 'insert' || change.new === null) return []
    const row = change.new
    return [{
      type: 'notification:new',
      topics: [userTopic(idValue(row, 'user_id')!)],
      data: {
        notificationId: idValue(row, 'id'),
        kind: jsonValue(row.kind),
        title: jsonValue(row.title),
        body: jsonValue(row.body),
        createdAt: jsonValue(row.created_at),
      },
    }]
  },
}
