import { defineCatalog } from '../../catalog/catalog.ts'
import { chatMessagesMapper } from './chat-messages.ts'
import { chatParticipantsMapper } from './chat-participants.ts'
import { marketplaceDashboard } from './dashboard.ts'
import { marketplaceDemoScript } from './demo-script.ts'
import { seedMarketplaceDemo } from './demo-seed.ts'
import { disputesMapper } from './disputes.ts'
import type { MarketplaceEventMap } from './events.ts'
import { notificationsMapper } from './notifications.ts'
import { offersMapper } from './offers.ts'
import { paymentsMapper } from './payments.ts'
import { payoutsMapper } from './payouts.ts'
import { purchaseRequestsMapper } from './purchase-requests.ts'
import { ADMIN_TOPIC, BUYER_TOPIC, BUYERS_TOPIC, CHAT_TOPIC, REQUEST_TOPIC, SELLER_TOPIC, SELLERS_TOPIC, USER_TOPIC } from './topics.ts'

/**
 * A marketplace: buyers post purchase requests, sellers bid and negotiate, the parties
 * chat, pay, dispute, and sellers are paid out. Every topic that names an id is read only
 * by the rows that admit its reader (a seller or buyer profile's user, a request's or a
 * chat's participants): naming another one's id gets the same refusal as a made-up id,
 * and no admin bypasses it (admins read the `admin` topic). The schema keeps those rows
 * for good while their topic carries events (schema.sql), so no access ever ends and no
 * revoking event is needed. Bids are sealed: an offer's events reach its two parties only.
 */
export const marketplaceCatalog = defineCatalog<MarketplaceEventMap>({
  name: 'marketplace',
  tables: [purchaseRequestsMapper, offersMapper, chatMessagesMapper, chatParticipantsMapper, disputesMapper, paymentsMapper, payoutsMapper, notificationsMapper],
  events: {
    'request:created': { topics: [REQUEST_TOPIC, BUYER_TOPIC, SELLERS_TOPIC, ADMIN_TOPIC] },
    'request:offer-received': { topics: [BUYER_TOPIC, SELLER_TOPIC] },
    'request:status-updated': { topics: [REQUEST_TOPIC, BUYER_TOPIC, ADMIN_TOPIC] },
    'offer:negotiation-update': { topics: [BUYER_TOPIC, SELLER_TOPIC] },
    'offer:accepted': { topics: [BUYER_TOPIC, SELLER_TOPIC, ADMIN_TOPIC] },
    'chat:new-message': { topics: [CHAT_TOPIC] },
    'chat:message-read': { topics: [CHAT_TOPIC] },
    'dispute:opened': { topics: [BUYER_TOPIC, SELLER_TOPIC, ADMIN_TOPIC] },
    'dispute:resolved': { topics: [BUYER_TOPIC, SELLER_TOPIC, ADMIN_TOPIC] },
    'payment:status-updated': { topics: [BUYER_TOPIC, SELLER_TOPIC, ADMIN_TOPIC] },
    'payout:completed': { topics: [SELLER_TOPIC, ADMIN_TOPIC] },
    'notification:received': { topics: [USER_TOPIC, SELLERS_TOPIC, BUYERS_TOPIC] },
  },
  access: {
    // Personal: not even an admin reads another user's.
    [USER_TOPIC]: { kind: 'self' },
    // The profile row's owner; the schema refuses to move a profile to another user.
    [SELLER_TOPIC]: { kind: 'owner', table: 'marketplace.sellers', key: 'id', owners: ['user_id'] },
    [BUYER_TOPIC]: { kind: 'owner', table: 'marketplace.buyers', key: 'id', owners: ['user_id'] },
    // The buyer and every seller who made an offer (rows the schema's triggers add).
    [REQUEST_TOPIC]: { kind: 'membership', table: 'marketplace.request_participants', key: 'request_id', user: 'user_id' },
    [CHAT_TOPIC]: { kind: 'membership', table: 'marketplace.chat_participants', key: 'chat_id', user: 'user_id' },
    [ADMIN_TOPIC]: { kind: 'role', role: 'admin' },
    [SELLERS_TOPIC]: { kind: 'role', role: 'seller' },
    [BUYERS_TOPIC]: { kind: 'role', role: 'buyer' },
  },
  // Typing indicators and who is in a chat: live only, never stored (I16); the chat's
  // membership admits the sender exactly as it admits a reader.
  ephemeral: {
    [CHAT_TOPIC]: { events: ['chat:typing', 'chat:stopped-typing'], maxBytes: 256, perSecond: 5, presence: true },
  },
  schema: new URL('./schema.sql', import.meta.url),
  demo: { seed: seedMarketplaceDemo, script: marketplaceDemoScript, signIn: 'sign in as Ada Buyer, user 1, or Sam Seller, user 2' },
  dashboard: marketplaceDashboard,
})
