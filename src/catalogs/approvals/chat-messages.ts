import type { CatalogTable } from '../../catalog/catalog.ts'
import type { DraftEvent, RowChange } from '../../catalog/row-change.ts'
import { idValue, jsonValue } from '../../catalog/values.ts'
import type { ApprovalsEventType } from './events.ts'
import { workspaceTopic } from './topics.ts'

/** chat_messages: each insert goes to its workspace's topic. */
export const chatMessagesMapper: CatalogTable<ApprovalsEventType> = {
  table: 'approvals.chat_messages',
  columns: ['id', 'workspace_id', 'author_id', 'body', 'sent_at'],
  events: ['chat.message'],
  map(change: RowChange): DraftEvent[] {
    if (change.kind !== 'insert' || change.new === null) return []
    const row = change.new
    const workspaceId = idValue(row, 'workspace_id')!
    return [{
      type: 'chat.message',
      topics: [workspaceTopic(workspaceId)],
      data: { messageId: idValue(row, 'id'), workspaceId, authorId: idValue(row, 'author_id'), body: jsonValue(row.body), sentAt: jsonValue(row.sent_at) },
    }]
  },
}
