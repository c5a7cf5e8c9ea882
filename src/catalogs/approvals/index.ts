import { defineCatalog } from '../../catalog/catalog.ts'
import { approvalsDashboard } from './dashboard.ts'
import { agentsMapper } from './agents.ts'
import { approvalsMapper } from './approvals.ts'
import { chatMessagesMapper } from './chat-messages.ts'
import { approvalsDemoScript, seedApprovalsDemo } from './demo.ts'
import type { ApprovalsEventMap } from './events.ts'
import { membersMapper } from './members.ts'
import { notificationsMapper } from './notifications.ts'
import { USER_TOPIC, WORKSPACE_TOPIC } from './topics.ts'

/**
 * Approvals workspaces: approvals, agents and chat, each scoped to its workspace, whose
 * topic only the workspace's members read (tenant isolation: no admin bypass, and a
 * guessed workspace id gets the same answer as a foreign one). Removing a member revokes
 * their live subscriptions at member.left. Notifications go to the user's own topic.
 */
export const approvalsCatalog = defineCatalog<ApprovalsEventMap>({
  name: 'approvals',
  tables: [approvalsMapper, agentsMapper, chatMessagesMapper, notificationsMapper, membersMapper],
  events: {
    'approval.created': { topics: [WORKSPACE_TOPIC] },
    'approval.updated': { topics: [WORKSPACE_TOPIC] },
    'approval.deleted': { topics: [WORKSPACE_TOPIC] },
    'agent.status.changed': { topics: [WORKSPACE_TOPIC] },
    'notification.new': { topics: [USER_TOPIC] },
    'chat.message': { topics: [WORKSPACE_TOPIC] },
    'member.left': { topics: [WORKSPACE_TOPIC] },
  },
  access: {
    [WORKSPACE_TOPIC]: {
      kind: 'membership', table: 'approvals.workspace_members', key: 'workspace_id', user: 'user_id',
      revokedBy: { event: 'member.left', key: 'workspaceId', user: 'userId' },
    },
    [USER_TOPIC]: { kind: 'self' },
  },
  schema: new URL('./schema.sql', import.meta.url),
  demo: { seed: seedApprovalsDemo, script: approvalsDemoScript, signIn: 'sign in as Ada Owner, user 1' },
  dashboard: approvalsDashboard,
})
