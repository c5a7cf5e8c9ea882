import type { CatalogTable } from '../../catalog/catalog.ts'
import type { DraftEvent, RowChange } from '../../catalog/row-change.ts'
import { idValue, jsonValue } from '../../catalog/values.ts'
import type { MarketplaceEventType } from './events.ts'
import { chatTopic } from './topics.ts'

/**
 * chat_participants: the row is access to chat:{id} (the membership rule reads it) and
 * holds the participant's read mark. chat:message-read when the mark moves forward; a
 * mark set back, cleared or rewritten is no event, nor is joining (the schema keeps a
 * participant for good: no event ends that access).
 */
export const chatParticipantsMapper: CatalogTable<MarketplaceEventType> = {
  table: 'marketplace.chat_participants',
  columns: ['chat_id', 'user_id', 'last_read_message_id', 'last_read_at'],
  events: ['chat:message-read'],
  fullIdentity: true,
  map(change: RowChange): DraftEvent[] {
    const row = change.new
    if (change.kind !== 'update' || row === null || change.old === null) return []
    const read = idValue(row, 'last_read_message_id')
    const before = idValue(change.old, 'last_read_message_id')
    if (read === null || (before !== null && BigInt(read) <= BigInt(before))) return []
    const chatId = idValue(row, 'chat_id')!
    return [{
      type: 'chat:message-read',
      topics: [chatTopic(chatId)],
      data: { chatId, userId: idValue(row, 'user_id'), messageId: read, readAt: jsonValue(row.last_read_at) },
    }]
  },
}
