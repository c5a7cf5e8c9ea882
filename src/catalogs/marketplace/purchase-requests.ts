import type { CatalogTable } from '../../catalog/catalog.ts'
import type { DraftEvent, Row, RowChange } from '../../catalog/row-change.ts'
import { changed, idValue, jsonValue } from '../../catalog/values.ts'
import type { MarketplaceEventType } from './events.ts'
import { ADMIN_TOPIC, buyerTopic, requestTopic, SELLERS_TOPIC } from './topics.ts'

/**
 * purchase_requests: request:created on insert (to every seller too: they bid on it), and
 * request:status-updated when the status moves. An edit of anything else, a no-op and a
 * TOAST-unchanged description are no event; the delivery address is not in the allowlist.
 */
export const purchaseRequestsMapper: CatalogTable<MarketplaceEventType> = {
  table: 'marketplace.purchase_requests',
  columns: ['id', 'buyer_id', 'title', 'description', 'category', 'budget', 'currency', 'status', 'created_at', 'updated_at'],
  events: ['request:created', 'request:status-updated'],
  fullIdentity: true,
  map(change: RowChange): DraftEvent[] {
    const row = change.new
    if (row === null) return []
    if (change.kind === 'insert') return [created(row)]
    return changed(change.old, row, 'status') ? [statusUpdated(change.old!, row)] : []
  },
}

const ids = (row: Row) => ({ requestId: idValue(row, 'id')!, buyerId: idValue(row, 'buyer_id')! })

function created(row: Row): DraftEvent {
  const { requestId, buyerId } = ids(row)
  return {
    type: 'request:created',
    topics: [requestTopic(requestId), buyerTopic(buyerId), SELLERS_TOPIC, ADMIN_TOPIC],
    data: {
      requestId,
      buyerId,
      title: jsonValue(row.title),
      description: jsonValue(row.description),
      category: jsonValue(row.category),
      budget: jsonValue(row.budget),
      currency: jsonValue(row.currency),
      status: jsonValue(row.status),
      createdAt: jsonValue(row.created_at),
    },
  }
}

function statusUpdated(old: Row, row: Row): DraftEvent {
  const { requestId, buyerId } = ids(row)
  return {
    type: 'request:status-updated',
    topics: [requestTopic(requestId), buyerTopic(buyerId), ADMIN_TOPIC],
    data: { requestId, buyerId, from: jsonValue(old.status), to: jsonValue(row.status), updatedAt: jsonValue(row.updated_at) },
  }
}
