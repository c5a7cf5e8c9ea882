import { sql } from 'kysely'
import type { CatalogDashboard } from '../../catalog/catalog.ts'
import { USER_TOPIC, workspaceTopic } from './topics.ts'

/** The dev dashboard's view: the user's workspaces with their pending approvals, and their notifications. */
export const approvalsDashboard: CatalogDashboard = {
  title: 'Your workspaces',
  columns: { id: '#', name: 'Workspace', role: 'Role', pending: 'Pending approvals' },
  async list(db, userId, limit) {
    const found = await sql<{ id: string; name: string; role: string; pending: string }>`
      SELECT w.id::text AS id, w.name, m.role,
             (SELECT count(*) FROM approvals.approvals a WHERE a.workspace_id = w.id AND a.status = 'pending')::text AS pending
      FROM approvals.workspace_members m JOIN approvals.workspaces w ON w.id = m.workspace_id
      WHERE m.user_id = ${userId}::bigint ORDER BY w.id DESC LIMIT ${limit}`.execute(db)
    return found.rows.map((w) => ({ id: w.id, topic: workspaceTopic(w.id), cells: { id: w.id, name: w.name, role: w.role, pending: w.pending } }))
  },
  userTopics: [USER_TOPIC],
  notifications: ['notification.new'],
  summaries: {
    'approval.created': 'Approval #{approvalId} requested: {title}',
    'approval.updated': 'Approval #{approvalId}: {status}',
    'approval.deleted': 'Approval #{approvalId} deleted',
    'agent.status.changed': 'Agent {name}: {from} → {to}',
    'notification.new': '{title}',
    'chat.message': 'Chat: {body}',
    'member.left': 'User {userId} left the workspace',
  },
}
