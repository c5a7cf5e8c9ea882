import type { CatalogTable } from '../../catalog/catalog.ts'
import type { DraftEvent, RowChange } from '../../catalog/row-change.ts'
import { changed, idValue, jsonValue } from '../../catalog/values.ts'
import type { ApprovalsEventType } from './events.ts'
import { workspaceTopic } from './topics.ts'

/**
 * agents: agent.status.changed when an agent appears (`from` null) or its status moves;
 * a heartbeat that only touches updated_at, or writes the same status, is no event. The
 * agent's API key is not in the allowlist.
 */
export const agentsMapper: CatalogTable<ApprovalsEventType> = {
  table: 'approvals.agents',
  columns: ['id', 'workspace_id', 'name', 'status'],
  events: ['agent.status.changed'],
  fullIdentity: true,
  map(change: RowChange): DraftEvent[] {
    const row = change.new
    if (row === null) return []
    const old = change.kind === 'update' ? change.old : null
    if (change.kind === 'update' && !changed(old, row, 'status')) return []
    const workspaceId = idValue(row, 'workspace_id')!
    return [{
      type: 'agent.status.changed',
      topics: [workspaceTopic(workspaceId)],
      data: { agentId: idValue(row, 'id'), workspaceId, name: jsonValue(row.name), from: old === null ? null : jsonValue(old.status), to: jsonValue(row.status) },
    }]
  },
}
