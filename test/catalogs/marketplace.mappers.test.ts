import t from 'tap'
import { createCatalogRegistry } from '../../src/catalog/registry.ts'
import type { Row, RowChange } from '../../src/catalog/row-change.ts'
import { checkCatalogShape } from '../../src/catalog/validate.ts'
import { marketplaceCatalog } from '../../src/catalogs/marketplace/index.ts'

// The mappers through the registry, as the ingest calls them: the allowlist applies first.
const registry = createCatalogRegistry(marketplaceCatalog)
const change = (table: string, kind: RowChange['kind'], old: Row | null, next: Row | null): RowChange => ({ kind, table: `marketplace.${table}`, old, new: next })
const summary = (c: RowChange) => registry.map(c).map((e) => [e.type, e.topics, e.data])
const types = (c: RowChange) => registry.map(c).map((e) => e.type)

const AT = new Date('2026-05-06T07:08:09Z')
const ISO = '2026-05-06T07:08:09.000Z'

t.test('the catalog passes its own shape check; every table that reads an old row is REPLICA IDENTITY FULL in the registry', async (t) => {
  t.equal(checkCatalogShape(marketplaceCatalog, 'marketplace'), marketplaceCatalog)
  t.same(registry.fullIdentityTables, ['marketplace.chat_participants', 'marketplace.disputes', 'marketplace.offers', 'marketplace.payments', 'marketplace.payouts', 'marketplace.purchase_requests'])
  const produced = new Set(marketplaceCatalog.tables.flatMap((table) => table.events))
  t.same([...produced].sort(), Object.keys(marketplaceCatalog.events).sort(), 'the tables produce exactly the declared events')
  t.equal(produced.size, 12, 'twelve event types')
})

const request: Row = {
  id: '5', buyer_id: '7', title: 'Desk', description: 'oak', category: 'furniture', budget: '600.00', currency: 'EUR', status: 'open',
  created_at: AT, updated_at: AT, delivery_address: '1 Secret Street',
}

t.test('purchase_requests: created to the request, its buyer, every seller and the admins; a status move is request:status-updated; nothing else is an event', async (t) => {
  t.same(summary(change('purchase_requests', 'insert', null, request)), [[
    'request:created', ['request:5', 'buyer:7', 'sellers', 'admin'],
    { requestId: '5', buyerId: '7', title: 'Desk', description: 'oak', category: 'furniture', budget: '600.00', currency: 'EUR', status: 'open', createdAt: ISO },
  ]], 'no delivery address')
  t.same(summary(change('purchase_requests', 'update', request, { ...request, status: 'negotiating' })), [
    ['request:status-updated', ['request:5', 'buyer:7', 'admin'], { requestId: '5', buyerId: '7', from: 'open', to: 'negotiating', updatedAt: ISO }],
  ])
  t.same(summary(change('purchase_requests', 'update', request, { ...request, title: 'Bigger desk', delivery_address: 'x' })), [], 'an edit of the title is no event')
  t.same(summary(change('purchase_requests', 'update', request, { ...request, description: undefined, status: 'open' })), [], 'a TOAST-unchanged description and the same status: no event')
  t.same(summary(change('purchase_requests', 'update', null, { ...request, status: 'awarded' })), [], 'without the old row no transition can be told')
  t.same(summary(change('purchase_requests', 'delete', request, null)), [], 'a delete is no event')
})

const offer: Row = {
  id: '9', request_id: '5', seller_id: '3', buyer_id: '7', price: '240.00', currency: 'EUR', round: 1, last_by: 'seller', status: 'pending',
  message: 'ships tomorrow', created_at: AT, updated_at: AT, internal_cost: '150.00',
}

t.test('offers: sealed bids, to the two parties only; the counter, the rejection and the acceptance; no internal cost', async (t) => {
  const ids = { offerId: '9', requestId: '5', sellerId: '3', buyerId: '7' }
  t.same(summary(change('offers', 'insert', null, offer)), [
    ['request:offer-received', ['buyer:7', 'seller:3'], { ...ids, price: '240.00', currency: 'EUR', message: 'ships tomorrow', createdAt: ISO }],
  ], 'not to request:5: the other bidders read that')
  const countered = { ...offer, price: '230.00', round: 2, status: 'countered' }
  t.same(summary(change('offers', 'update', offer, countered)), [
    ['offer:negotiation-update', ['buyer:7', 'seller:3'], { ...ids, price: '230.00', previousPrice: '240.00', currency: 'EUR', round: 2, status: 'countered', by: 'seller' }],
  ])
  t.same(types(change('offers', 'update', countered, { ...countered, last_by: 'buyer' })), ['offer:negotiation-update'], 'the side that moves counts')
  t.same(types(change('offers', 'update', countered, { ...countered, status: 'rejected', last_by: 'buyer' })), ['offer:negotiation-update'])
  t.same(summary(change('offers', 'update', countered, { ...countered, status: 'accepted', last_by: 'buyer' })), [
    ['offer:accepted', ['buyer:7', 'seller:3', 'admin'], { ...ids, price: '230.00', currency: 'EUR', round: 2, acceptedAt: ISO }],
  ], 'acceptance is the deal, not a negotiation update; the admins hear of it')
  t.same(types(change('offers', 'insert', null, { ...offer, status: 'accepted' })), ['request:offer-received', 'offer:accepted'], 'an offer inserted accepted is both')
  t.same(summary(change('offers', 'update', offer, { ...offer, message: 'edited', internal_cost: '1.00', updated_at: new Date() })), [], 'the message, the cost and a timestamp: no event')
  t.same(summary(change('offers', 'update', { ...offer, status: 'accepted' }, { ...offer, status: 'accepted', price: '1.00' })), [
    ['offer:negotiation-update', ['buyer:7', 'seller:3'], { ...ids, price: '1.00', previousPrice: '240.00', currency: 'EUR', round: 1, status: 'accepted', by: 'seller' }],
  ], 'a later change of an accepted offer is told, never a second acceptance')
  t.same(summary(change('offers', 'delete', offer, null)), [])
})

t.test('chats: a message to its chat; a read mark that moves forward is chat:message-read, one set back, cleared or rewritten is not, nor is joining', async (t) => {
  t.same(summary(change('chat_messages', 'insert', null, { id: '50', chat_id: '4', sender_id: '1', body: 'hi', sent_at: AT })), [
    ['chat:new-message', ['chat:4'], { chatId: '4', messageId: '50', senderId: '1', body: 'hi', sentAt: ISO }],
  ])
  t.same(summary(change('chat_messages', 'update', { id: '50', chat_id: '4', sender_id: '1', body: 'hi' }, { id: '50', chat_id: '4', sender_id: '1', body: 'edited' })), [], 'an edit is no new message')
  const member: Row = { chat_id: '4', user_id: '2', last_read_message_id: null, last_read_at: null, joined_at: AT }
  t.same(summary(change('chat_participants', 'insert', null, member)), [], 'joining is no event')
  const read = { ...member, last_read_message_id: '50', last_read_at: AT }
  t.same(summary(change('chat_participants', 'update', member, read)), [['chat:message-read', ['chat:4'], { chatId: '4', userId: '2', messageId: '50', readAt: ISO }]])
  t.same(types(change('chat_participants', 'update', read, { ...read, last_read_message_id: '100' })), ['chat:message-read'], 'compared as numbers, not as text')
  t.same(types(change('chat_participants', 'update', read, { ...read, last_read_message_id: '9' })), [], 'set back')
  t.same(types(change('chat_participants', 'update', read, { ...read, last_read_at: new Date() })), [], 'rewritten')
  t.same(types(change('chat_participants', 'update', read, member)), [], 'cleared')
  t.same(types(change('chat_participants', 'update', null, read)), [], 'without the old row')
  t.same(types(change('chat_participants', 'delete', read, null)), [])
})

t.test('disputes, payments, payouts: to the parties and the admins, transitions only; no notes, references, cards or accounts', async (t) => {
  const dispute: Row = { id: '3', offer_id: '9', request_id: '5', buyer_id: '7', seller_id: '2', opened_by: '1', reason: 'scratch', status: 'open', resolution: null, opened_at: AT, resolved_at: null, admin_notes: 'secret' }
  const ids = { disputeId: '3', offerId: '9', requestId: '5', buyerId: '7', sellerId: '2' }
  t.same(summary(change('disputes', 'insert', null, dispute)), [['dispute:opened', ['buyer:7', 'seller:2', 'admin'], { ...ids, openedBy: '1', reason: 'scratch', openedAt: ISO }]])
  const resolved = { ...dispute, status: 'resolved', resolution: 'refund', resolved_at: AT }
  t.same(summary(change('disputes', 'update', dispute, resolved)), [['dispute:resolved', ['buyer:7', 'seller:2', 'admin'], { ...ids, resolution: 'refund', resolvedAt: ISO }]])
  t.same(types(change('disputes', 'update', resolved, { ...resolved, admin_notes: 'more' })), [], 'a resolved dispute edited is not resolved again')
  t.same(types(change('disputes', 'insert', null, resolved)), ['dispute:opened', 'dispute:resolved'])
  t.same(types(change('disputes', 'delete', dispute, null)), [])

  const payment: Row = { id: '8', offer_id: '9', request_id: '5', buyer_id: '7', seller_id: '2', amount: '230.00', currency: 'EUR', status: 'pending', updated_at: AT, provider_ref: 'pi_x', card_last4: '4242' }
  const paid = { paymentId: '8', offerId: '9', requestId: '5', buyerId: '7', sellerId: '2', amount: '230.00', currency: 'EUR', updatedAt: ISO }
  t.same(summary(change('payments', 'insert', null, payment)), [['payment:status-updated', ['buyer:7', 'seller:2', 'admin'], { ...paid, from: null, to: 'pending' }]])
  t.same(summary(change('payments', 'update', payment, { ...payment, status: 'captured' })), [['payment:status-updated', ['buyer:7', 'seller:2', 'admin'], { ...paid, from: 'pending', to: 'captured' }]])
  t.same(types(change('payments', 'update', payment, { ...payment, provider_ref: 'pi_y' })), [])
  t.same(types(change('payments', 'delete', payment, null)), [])

  const payout: Row = { id: '6', seller_id: '2', payment_id: '8', amount: '210.00', currency: 'EUR', status: 'pending', completed_at: null, bank_account: 'DE00' }
  t.same(types(change('payouts', 'insert', null, payout)), [], 'a pending payout is no event')
  t.same(types(change('payouts', 'update', payout, { ...payout, status: 'processing' })), [])
  t.same(summary(change('payouts', 'update', payout, { ...payout, status: 'completed', completed_at: AT })), [
    ['payout:completed', ['seller:2', 'admin'], { payoutId: '6', sellerId: '2', paymentId: '8', amount: '210.00', currency: 'EUR', completedAt: ISO }],
  ])
  t.same(types(change('payouts', 'update', { ...payout, status: 'completed' }, { ...payout, status: 'completed', bank_account: 'FR' })), [], 'completed once')
  t.same(types(change('payouts', 'insert', null, { ...payout, status: 'completed' })), ['payout:completed'])
})

t.test('notifications: to the user, or to every seller or every buyer; a row that pairs them wrong goes nowhere; marking read is no event', async (t) => {
  const note: Row = { id: '1', audience: 'user', user_id: '2', kind: 'offer', title: 'T', body: '', created_at: AT, read_at: null }
  t.same(summary(change('notifications', 'insert', null, note)), [
    ['notification:received', ['user:2'], { notificationId: '1', audience: 'user', userId: '2', kind: 'offer', title: 'T', body: '', createdAt: ISO }],
  ])
  t.same(registry.map(change('notifications', 'insert', null, { ...note, audience: 'sellers', user_id: null })).map((e) => e.topics), [['sellers']])
  t.same(registry.map(change('notifications', 'insert', null, { ...note, audience: 'buyers', user_id: null })).map((e) => e.topics), [['buyers']])
  t.same(types(change('notifications', 'insert', null, { ...note, audience: 'user', user_id: null })), [], 'to a user, but none named')
  t.same(types(change('notifications', 'insert', null, { ...note, audience: 'sellers' })), [], 'a broadcast that names a user')
  t.same(types(change('notifications', 'insert', null, { ...note, audience: 'everyone', user_id: null })), [], 'an unknown audience')
  t.same(types(change('notifications', 'update', note, { ...note, read_at: AT })), [])
})
