import type { CatalogTable } from '../../catalog/catalog.ts'
import type { DraftEvent, Row, RowChange } from '../../catalog/row-change.ts'
import { idValue, jsonValue } from '../../catalog/values.ts'
import type { MarketplaceEventType } from './events.ts'
import { BUYERS_TOPIC, SELLERS_TOPIC, userTopic } from './topics.ts'

/**
 * notifications: each insert goes to its user's own topic, or (a broadcast, no user) to
 * every seller or every buyer; marking one read is no event.
 */
export const notificationsMapper: CatalogTable<MarketplaceEventType> = {
  table: 'marketplace.notifications',
  columns: ['id', 'audience', 'user_id', 'kind', 'title', 'body', 'created_at'],
  events: ['notification:received'],
  map(change: RowChange): DraftEvent[] {
    if (change.kind !== 'insert' || change.new === null) return []
    const row = change.new
    const topic = topicOf(row)
    if (topic === undefined) return []
    return [{
      type: 'notification:received',
      topics: [topic],
      data: {
        notificationId: idValue(row, 'id'),
        audience: jsonValue(row.audience),
        userId: idValue(row, 'user_id'),
        kind: jsonValue(row.kind),
        title: jsonValue(row.title),
        body: jsonValue(row.body),
        createdAt: jsonValue(row.created_at),
      },
    }]
  },
}

// The schema's CHECK pairs the audience with the user; a row that breaks it goes nowhere.
function topicOf(row: Row): string | undefined {
  const userId = idValue(row, 'user_id')
  if (row.audience === 'user') return userId === null ? undefined : userTopic(userId)
  if (userId !== null) return undefined
  if (row.audience === 'sellers') return SELLERS_TOPIC
  if (row.audience === 'buyers') return BUYERS_TOPIC
  return undefined
}
