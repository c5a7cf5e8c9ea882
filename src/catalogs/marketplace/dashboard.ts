import { sql } from 'kysely'
import type { CatalogDashboard } from '../../catalog/catalog.ts'
import { ADMIN_TOPIC, BUYERS_TOPIC, SELLERS_TOPIC, USER_TOPIC } from './topics.ts'

interface Listed { topic: string; kind: string; what: string; status: string }

/**
 * The dev dashboard's view: the user's seller and buyer profiles, then their requests and
 * chats, newest first. The page subscribes to each row's topic and to `user:{id}`; a
 * chat's status is its unread count.
 */
export const marketplaceDashboard: CatalogDashboard = {
  title: 'Your marketplace',
  columns: { kind: 'What', what: 'Name', status: 'Status' },
  async list(db, userId, limit) {
    const found = await sql<Listed>`
      SELECT topic, kind, what, status FROM (
        SELECT 0 AS rank, b.created_at AS at, 'buyer:' || b.id AS topic, 'Buyer profile' AS kind, 'Your purchases' AS what, '' AS status
        FROM marketplace.buyers b WHERE b.user_id = ${userId}::bigint
        UNION ALL
        SELECT 0, s.created_at, 'seller:' || s.id, 'Seller profile', s.shop_name, ''
        FROM marketplace.sellers s WHERE s.user_id = ${userId}::bigint
        UNION ALL
        SELECT 1, r.created_at, 'request:' || r.id, 'Request #' || r.id || ' (' || p.role || ')', r.title, r.status
        FROM marketplace.request_participants p JOIN marketplace.purchase_requests r ON r.id = p.request_id
        WHERE p.user_id = ${userId}::bigint
        UNION ALL
        SELECT 1, c.created_at, 'chat:' || c.id, 'Chat #' || c.id, coalesce('about request #' || c.request_id, 'direct'),
               (SELECT count(*) FROM marketplace.chat_messages m
                WHERE m.chat_id = c.id AND m.sender_id <> cp.user_id AND m.id > coalesce(cp.last_read_message_id, 0)) || ' unread'
        FROM marketplace.chat_participants cp JOIN marketplace.chats c ON c.id = cp.chat_id
        WHERE cp.user_id = ${userId}::bigint
      ) listed ORDER BY rank, at DESC, topic LIMIT ${limit}`.execute(db)
    return found.rows.map((row) => ({ id: row.topic, topic: row.topic, cells: { kind: row.kind, what: row.what, status: row.status } }))
  },
  userTopics: [USER_TOPIC],
  async roles(db, userId) {
    const found = await sql<{ role: string }>`SELECT role FROM marketplace.user_roles WHERE user_id = ${userId}::bigint ORDER BY role`.execute(db)
    return found.rows.map((row) => row.role)
  },
  roleTopics: { admin: ADMIN_TOPIC, buyer: BUYERS_TOPIC, seller: SELLERS_TOPIC },
  notifications: ['notification:received'],
  summaries: {
    'request:created': 'Request #{requestId} posted: {title}',
    'request:offer-received': 'Offer #{offerId} on request #{requestId}: {price} {currency}',
    'request:status-updated': 'Request #{requestId}: {from} → {to}',
    'offer:negotiation-update': 'Offer #{offerId}, round {round}: {price} {currency} ({status}, by the {by})',
    'offer:accepted': 'Offer #{offerId} accepted: {price} {currency}',
    'chat:new-message': 'Chat #{chatId}: {body}',
    'chat:message-read': 'Chat #{chatId}: user {userId} read up to message #{messageId}',
    'dispute:opened': 'Dispute #{disputeId} on request #{requestId}: {reason}',
    'dispute:resolved': 'Dispute #{disputeId} resolved: {resolution}',
    'payment:status-updated': 'Payment #{paymentId}: {from} → {to} ({amount} {currency})',
    'payout:completed': 'Payout #{payoutId}: {amount} {currency} paid out',
    'notification:received': '{title}',
  },
}
