import type { DraftEvent, RowChange, TableMapper } from '../types.ts'
import { idValue, jsonValue } from '../values.ts'
import { userTopic } from './topics.ts'

/** notifications: each insert is delivered to its user only. */
export const notificationsMapper: TableMapper = {
  table: 'public.notifications',
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
