/** The approvals-workspace catalog's events (docs/catalogs.md). `data` fields are camelCase. */
export interface ApprovalsEventMap {
  /** A request for approval was filed in a workspace. */
  'approval.created': ApprovalData & { requestedBy: string; createdAt: string }
  /** Its title, description, status or decision changed (no event for an update of nothing it shows). */
  'approval.updated': ApprovalData & { decidedBy: string | null; decidedAt: string | null }
  'approval.deleted': { approvalId: string; workspaceId: string }
  /** An agent appeared (`from` null) or its status moved. */
  'agent.status.changed': { agentId: string; workspaceId: string; name: string; from: AgentStatus | null; to: AgentStatus }
  /** To the user's own topic only. */
  'notification.new': { notificationId: string; workspaceId: string | null; kind: string; title: string; body: string; createdAt: string }
  'chat.message': { messageId: string; workspaceId: string; authorId: string; body: string; sentAt: string }
  /** A member left (or was removed from) the workspace: their last event on its topic. */
  'member.left': { workspaceId: string; userId: string }
}

interface ApprovalData {
  approvalId: string
  workspaceId: string
  title: string
  description: string
  status: ApprovalStatus
}

export type ApprovalsEventType = keyof ApprovalsEventMap
export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'cancelled'
export type AgentStatus = 'idle' | 'running' | 'waiting' | 'failed' | 'offline'
