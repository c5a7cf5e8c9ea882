import t from 'tap'
import { createCatalogRegistry } from '../../src/catalog/registry.ts'
import type { Row, RowChange } from '../../src/catalog/row-change.ts'
import { approvalsCatalog } from '../../src/catalogs/approvals/index.ts'

// The mappers through the registry, as the ingest calls them: the allowlist applies first.
const registry = createCatalogRegistry(approvalsCatalog)
const change = (table: string, kind: RowChange['kind'], old: Row | null, next: Row | null): RowChange => ({ kind, table: `approvals.${table}`, old, new: next })
const summary = (c: RowChange) => registry.map(c).map((e) => [e.type, e.topics, e.data])

const approval: Row = { id: '5', workspace_id: '10', title: 'T', description: 'long', status: 'pending', requested_by: '1', decided_by: null, decided_at: null, created_at: null, internal_note: 'x', requester_email: 'a@example.com' }

t.test('an approval moved to another workspace is deleted from the old one and created in the new one; an unchanged TOASTed description keeps its old value', async (t) => {
  t.same(summary(change('approvals', 'update', approval, { ...approval, workspace_id: '20', description: undefined })), [
    ['approval.deleted', ['workspace:10'], { approvalId: '5', workspaceId: '10' }],
    ['approval.created', ['workspace:20'], { approvalId: '5', workspaceId: '20', title: 'T', description: 'long', status: 'pending', requestedBy: '1', createdAt: null }],
  ])
  t.same(summary(change('approvals', 'update', approval, { ...approval, description: undefined, internal_note: 'y' })), [], 'an unchanged TOASTed value and an unlisted column: no event')
  t.same(summary(change('approvals', 'delete', null, null)), [], 'a delete without its old row names no workspace: no event')
})

t.test('I7: a member row moved to another workspace or user is member.left of the old one; a role change or a join is no event', async (t) => {
  const member: Row = { workspace_id: '10', user_id: '2', role: 'member' }
  t.same(summary(change('workspace_members', 'update', member, { ...member, workspace_id: '11' })), [['member.left', ['workspace:10'], { workspaceId: '10', userId: '2' }]])
  t.same(summary(change('workspace_members', 'update', member, { ...member, user_id: '3' })), [['member.left', ['workspace:10'], { workspaceId: '10', userId: '2' }]])
  t.same(summary(change('workspace_members', 'update', member, { ...member, role: 'owner' })), [])
  t.same(summary(change('workspace_members', 'insert', null, member)), [])
  t.same(summary(change('workspace_members', 'update', null, member)), [], 'without the old row nothing can be said')
})

t.test('agents, chat and notifications: only what the catalog reports', async (t) => {
  const agent: Row = { id: '7', workspace_id: '10', name: 'bot', status: 'idle', api_key: 'sk' }
  t.same(summary(change('agents', 'delete', agent, null)), [], 'an agent removed is no status change')
  t.same(summary(change('agents', 'update', agent, { ...agent, status: 'failed' })), [
    ['agent.status.changed', ['workspace:10'], { agentId: '7', workspaceId: '10', name: 'bot', from: 'idle', to: 'failed' }],
  ])
  const message: Row = { id: '1', workspace_id: '10', author_id: '2', body: 'hi', sent_at: null }
  t.same(summary(change('chat_messages', 'update', message, { ...message, body: 'edited' })), [], 'an edited message is no new message')
  const notification: Row = { id: '1', user_id: '2', workspace_id: null, kind: 'k', title: 't', body: '', created_at: null }
  t.same(summary(change('notifications', 'update', notification, { ...notification, title: 'read' })), [])
  t.same(summary(change('notifications', 'insert', null, notification)).map(([type, topics]) => [type, topics]), [['notification.new', ['user:2']]])
})
