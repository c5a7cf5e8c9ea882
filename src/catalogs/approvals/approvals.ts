import type { CatalogTable } from '../../catalog/catalog.ts'
import type { DraftEvent, Row, RowChange } from '../../catalog/row-change.ts'
import { changed, idValue, jsonValue } from '../../catalog/values.ts'
import type { ApprovalsEventType } from './events.ts'
import { workspaceTopic } from './topics.ts'

/** What approval.updated reports: a change to anything else is no event. */
const SHOWN = ['title', 'description', 'status', 'decided_by', 'decided_at']

/**
 * approvals: created on insert, updated when a shown column changes, deleted on delete,
 * all on the workspace's topic. The requester's e-mail and the internal note are not in
 * the allowlist. An approval moved to another workspace is deleted from the old one and
 * created in the new one, so the old workspace's members stop hearing of it.
 */
export const approvalsMapper: CatalogTable<ApprovalsEventType> = {
  table: 'approvals.approvals',
  columns: ['id', 'workspace_id', 'title', 'description', 'status', 'requested_by', 'decided_by', 'decided_at', 'created_at'],
  events: ['approval.created', 'approval.updated', 'approval.deleted'],
  fullIdentity: true,
  map(change: RowChange): DraftEvent[] {
    if (change.kind === 'delete') return change.old === null ? [] : [deleted(change.old)]
    const row = change.new!
    if (change.kind === 'insert') return [created(row)]
    const old = change.old
    if (old !== null && changed(old, row, 'workspace_id')) return [deleted(old), created({ ...old, ...definedOnly(row) })]
    return SHOWN.some((column) => changed(old, row, column)) ? [updated(row)] : []
  },
}

// An unchanged TOASTed column is undefined in the new row: keep the old value for it.
function definedOnly(row: Row): Row {
  return Object.fromEntries(Object.entries(row).filter(([, value]) => value !== undefined))
}

function shown(row: Row): Record<string, unknown> {
  return {
    approvalId: idValue(row, 'id'),
    workspaceId: idValue(row, 'workspace_id'),
    title: jsonValue(row.title),
    description: jsonValue(row.description),
    status: jsonValue(row.status),
  }
}

function created(row: Row): DraftEvent {
  return {
    type: 'approval.created',
    topics: [workspaceTopic(idValue(row, 'workspace_id')!)],
    data: { ...shown(row), requestedBy: idValue(row, 'requested_by'), createdAt: jsonValue(row.created_at) },
  }
}

function updated(row: Row): DraftEvent {
  return {
    type: 'approval.updated',
    topics: [workspaceTopic(idValue(row, 'workspace_id')!)],
    data: { ...shown(row), decidedBy: idValue(row, 'decided_by'), decidedAt: jsonValue(row.decided_at) },
  }
}

function deleted(row: Row): DraftEvent {
  const workspaceId = idValue(row, 'workspace_id')!
  return { type: 'approval.deleted', topics: [workspaceTopic(workspaceId)], data: { approvalId: idValue(row, 'id'), workspaceId } }
}
