import type { CatalogTable } from '../../catalog/catalog.ts'
import type { DraftEvent, Row, RowChange } from '../../catalog/row-change.ts'
import { changed, idValue, jsonValue } from '../../catalog/values.ts'
import type { MarketplaceEventType } from './events.ts'
import { ADMIN_TOPIC, buyerTopic, sellerTopic } from './topics.ts'

/** What a negotiation moves: a change to anything else (the message, a timestamp) is no event. */
const NEGOTIATED = ['price', 'round', 'status', 'last_by']

/**
 * offers: request:offer-received on insert; offer:accepted when the status becomes
 * accepted; offer:negotiation-update when the price, round, status or the side that moved
 * last changes short of that. Bids are sealed: an offer's events go to its buyer and its
 * seller only (and the deal to the admins), never to the request's other bidders. The
 * seller's internal cost is not in the allowlist.
 */
export const offersMapper: CatalogTable<MarketplaceEventType> = {
  table: 'marketplace.offers',
  columns: ['id', 'request_id', 'seller_id', 'buyer_id', 'price', 'currency', 'round', 'last_by', 'status', 'message', 'created_at', 'updated_at'],
  events: ['request:offer-received', 'offer:negotiation-update', 'offer:accepted'],
  fullIdentity: true,
  map(change: RowChange): DraftEvent[] {
    const row = change.new
    if (row === null) return []
    if (change.kind === 'insert') return row.status === 'accepted' ? [received(row), accepted(row)] : [received(row)]
    const old = change.old
    if (row.status === 'accepted' && changed(old, row, 'status')) return [accepted(row)]
    return NEGOTIATED.some((column) => changed(old, row, column)) ? [negotiated(old!, row)] : []
  },
}

function parties(row: Row) {
  const data = { offerId: idValue(row, 'id')!, requestId: idValue(row, 'request_id')!, sellerId: idValue(row, 'seller_id')!, buyerId: idValue(row, 'buyer_id')! }
  return { data, topics: [buyerTopic(data.buyerId), sellerTopic(data.sellerId)] }
}

function received(row: Row): DraftEvent {
  const { data, topics } = parties(row)
  return {
    type: 'request:offer-received',
    topics,
    data: { ...data, price: jsonValue(row.price), currency: jsonValue(row.currency), message: jsonValue(row.message), createdAt: jsonValue(row.created_at) },
  }
}

function negotiated(old: Row, row: Row): DraftEvent {
  const { data, topics } = parties(row)
  return {
    type: 'offer:negotiation-update',
    topics,
    data: {
      ...data,
      price: jsonValue(row.price),
      previousPrice: jsonValue(old.price),
      currency: jsonValue(row.currency),
      round: jsonValue(row.round),
      status: jsonValue(row.status),
      by: jsonValue(row.last_by),
    },
  }
}

function accepted(row: Row): DraftEvent {
  const { data, topics } = parties(row)
  return {
    type: 'offer:accepted',
    topics: [...topics, ADMIN_TOPIC],
    data: { ...data, price: jsonValue(row.price), currency: jsonValue(row.currency), round: jsonValue(row.round), acceptedAt: jsonValue(row.updated_at) },
  }
}
