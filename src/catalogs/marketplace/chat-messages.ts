import type { CatalogTable } from '../../catalog/catalog.ts'
import type { DraftEvent, RowChange } from '../../catalog/row-change.ts'
import { idValue, jsonValue } from '../../catalog/values.ts'
import type { MarketplaceEventType } from './events.ts'
import { chatTopic } from './topics.ts'

/** chat_messages: each insert goes to its chat's topic; an edit or a delete is no new message. */
export const chatMessagesMapper: CatalogTable<MarketplaceEventType> = {
  table: 'marketplace.chat_messages',
  columns: ['id', 'chat_id', 'sender_id', 'body', 'sent_at'],
  events: ['chat:new-message'],
  map(change: RowChange): DraftEvent[] {
    if (change.kind !== 'insert' || change.new === null) return []
    const row = change.new
    const chatId = idValue(row, 'chat_id')!
    return [{
      type: 'chat:new-message',
      topics: [chatTopic(chatId)],
      data: { chatId, messageId: idValue(row, 'id'), senderId: idValue(row, 'sender_id'), body: jsonValue(row.body), sentAt: jsonValue(row.sent_at) },
    }]
  },
}
