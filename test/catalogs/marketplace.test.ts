import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { createClient } from '../../src/client/index.ts'
import type { WalcastEvent, WebSocketConstructor } from '../../src/client/types.ts'
import type { MarketplaceEventMap } from '../../src/catalogs/marketplace/events.ts'
import { marketplaceCatalog } from '../../src/catalogs/marketplace/index.ts'
import { DEMO_DESCRIPTION, DEMO_NOTIFICATIONS_KEPT, DEMO_REQUESTS_KEPT } from '../../src/catalogs/marketplace/demo-script.ts'
import { overviewFor } from '../../src/dashboard/overview.ts'
import { startDemoWriter } from '../../src/demo/writer.ts'
import type { Service } from '../../src/service.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts'
import { openSse, startFeedService, type SseReader } from '../helpers/feed.ts'
import { silentLogger } from '../helpers/log.ts'
import { historyRows, waitForHistory } from '../helpers/service.ts'
import { adminToken, signToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'
import { connectWs, type ServerFrame, type TestWsClient } from '../helpers/ws-client.ts'

const WHEN = '2026-05-06T07:08:09Z'
const ISO = '2026-05-06T07:08:09.000Z'
const ZERO = '0000000000000000-00000000'

/**
 * Users: 1 Ada (buyer 10), 5 Bo (buyer 1), 2 Sam (seller 20), 3 Sol (seller 2), 4 Ari
 * (admin). Profile ids are not user ids, and some profile ids are other users' user ids:
 * buyer:1 is Bo's though Ada is user 1, seller:2 is Sol's though Sam is user 2.
 */
async function startMarketplace(t: Test): Promise<{ tdb: TestDatabase; service: Service; url: string }> {
  const tdb = await createTestDatabase(t, { prepared: false })
  const { service, url } = await startFeedService(t, tdb, { WALCAST_CATALOG: 'marketplace' })
  t.equal(service.catalog.name, 'marketplace')
  await tdb.query(`INSERT INTO users (id, display_name, email, phone) VALUES
    (1, 'Ada', 'ada@example.com', '+15550000001'), (2, 'Sam', 'sam@example.com', '+15550000002'), (3, 'Sol', 'sol@example.com', null),
    (4, 'Ari', 'ari@example.com', null), (5, 'Bo', 'bo@example.com', null)`)
  await tdb.query(`INSERT INTO marketplace.buyers (id, user_id, shipping_address) VALUES (10, 1, 'secret-address-ada'), (1, 5, 'secret-address-bo')`)
  await tdb.query(`INSERT INTO marketplace.sellers (id, user_id, shop_name, payout_account) VALUES (20, 2, 'Sam''s', 'secret-account-sam'), (2, 3, 'Sol''s', 'secret-account-sol')`)
  return { tdb, service, url }
}

const token = (sub: string, roles: string[]) => signToken(sub, { claims: { roles } })
const sseFrames = (stream: SseReader): ServerFrame[] => stream.messages.map((m) => JSON.parse(m.data) as ServerFrame)
const eventsOf = (frames: ServerFrame[], topic: string): ServerFrame[] => frames.filter((f) => f.op === 'event' && f.topic === topic)
const typesOf = (frames: ServerFrame[], topic: string): string[] => eventsOf(frames, topic).map((f) => String(f.type))

/** Request 100 of Ada's with offers of Sam (200) and Sol (201); Ada and Sam's chat 300; Sam and Sol's chat 301. */
async function marketDay(tdb: TestDatabase): Promise<void> {
  const q = (text: string) => tdb.query(text)
  await q(`INSERT INTO marketplace.purchase_requests (id, buyer_id, title, description, category, budget, currency, created_at, updated_at, delivery_address)
           VALUES (100, 10, 'Desk', 'oak, 160 cm', 'furniture', 600, 'EUR', '${WHEN}', '${WHEN}', 'secret-delivery')`)
  await q(`INSERT INTO marketplace.offers (id, request_id, seller_id, price, currency, message, created_at, updated_at, internal_cost)
           VALUES (200, 100, 20, 240, 'EUR', 'beech', '${WHEN}', '${WHEN}', 111.11)`)
  await q(`INSERT INTO marketplace.offers (id, request_id, seller_id, price, currency, message, created_at, updated_at, internal_cost)
           VALUES (201, 100, 2, 225, 'EUR', 'pine', '${WHEN}', '${WHEN}', 99.99)`)
  await q(`UPDATE marketplace.purchase_requests SET title = 'Desk!', delivery_address = 'secret-edit' WHERE id = 100`)
  await q(`UPDATE marketplace.purchase_requests SET status = 'negotiating' WHERE id = 100`)
  await q(`UPDATE marketplace.offers SET message = 'secret-message-edit', internal_cost = 1 WHERE id = 200`)
  await q(`UPDATE marketplace.offers SET price = 230, round = 2, status = 'countered' WHERE id = 200`)
  await q(`INSERT INTO marketplace.chats (id, request_id) VALUES (300, 100), (301, NULL)`)
  await q(`INSERT INTO marketplace.chat_participants (chat_id, user_id) VALUES (300, 1), (300, 2), (301, 2), (301, 3)`)
  await q(`INSERT INTO marketplace.chat_messages (id, chat_id, sender_id, body, sent_at) VALUES (400, 300, 1, 'Could you do 220?', '${WHEN}')`)
  await q(`INSERT INTO marketplace.chat_messages (id, chat_id, sender_id, body, sent_at) VALUES (401, 300, 2, '230, ships tomorrow', '${WHEN}'), (402, 301, 3, 'between sellers', '${WHEN}')`)
  await q(`UPDATE marketplace.chat_participants SET last_read_message_id = 400, last_read_at = '${WHEN}' WHERE chat_id = 300 AND user_id = 2`)
  await q(`UPDATE marketplace.chat_participants SET last_read_at = now() WHERE chat_id = 300 AND user_id = 2`)
  await q(`UPDATE marketplace.offers SET status = 'accepted', last_by = 'buyer' WHERE id = 200`)
  await q(`UPDATE marketplace.offers SET status = 'rejected', last_by = 'buyer' WHERE id = 201`)
  await q(`UPDATE marketplace.purchase_requests SET status = 'awarded' WHERE id = 100`)
  await q(`INSERT INTO marketplace.payments (id, offer_id, amount, currency, updated_at, provider_ref, card_last4) VALUES (500, 200, 230, 'EUR', '${WHEN}', 'secret-pi', '4242')`)
  await q(`UPDATE marketplace.payments SET status = 'captured' WHERE id = 500`)
  await q(`INSERT INTO marketplace.disputes (id, offer_id, opened_by, reason, opened_at, admin_notes) VALUES (600, 200, 1, 'scratched', '${WHEN}', 'secret-notes')`)
  await q(`UPDATE marketplace.disputes SET status = 'resolved', resolution = 'refund 20', resolved_at = '${WHEN}' WHERE id = 600`)
  await q(`INSERT INTO marketplace.payouts (id, seller_id, payment_id, amount, currency, bank_account) VALUES (700, 20, 500, 210, 'EUR', 'secret-bank')`)
  await q(`UPDATE marketplace.payouts SET status = 'completed', completed_at = '${WHEN}' WHERE id = 700`)
  await q(`INSERT INTO marketplace.notifications (id, audience, user_id, kind, title, created_at) VALUES (800, 'user', 1, 'offer', 'For Ada', '${WHEN}'), (801, 'user', 2, 'offer', 'For Sam', '${WHEN}')`)
  await q(`INSERT INTO marketplace.notifications (id, audience, kind, title, created_at) VALUES (802, 'sellers', 'news', 'To sellers', '${WHEN}'), (803, 'buyers', 'news', 'To buyers', '${WHEN}')`)
  await q(`INSERT INTO marketplace.purchase_requests (id, buyer_id, title, currency, created_at) VALUES (101, 1, 'Bo''s lamp', 'EUR', '${WHEN}')`)
}

// Every event marketDay produces, in order: what each topic must carry.
const BUYER_10 = ['request:created', 'request:offer-received', 'request:offer-received', 'request:status-updated', 'offer:negotiation-update',
  'offer:accepted', 'offer:negotiation-update', 'request:status-updated', 'payment:status-updated', 'payment:status-updated', 'dispute:opened', 'dispute:resolved']
const SELLER_20 = ['request:offer-received', 'offer:negotiation-update', 'offer:accepted', 'payment:status-updated', 'payment:status-updated',
  'dispute:opened', 'dispute:resolved', 'payout:completed']
const ADMIN = ['request:created', 'request:status-updated', 'offer:accepted', 'request:status-updated', 'payment:status-updated', 'payment:status-updated',
  'dispute:opened', 'dispute:resolved', 'payout:completed', 'request:created']

t.test('I13: marketplace: every event type reaches exactly its topics, on the WebSocket and on SSE, with only allowlisted columns; edits of unlisted columns are no event', async (t) => {
  const { tdb, service, url } = await startMarketplace(t)
  await marketDay(tdb)
  const rows = await waitForHistory(tdb, 22)
  t.equal(rows.length, 22, 'twenty-two events, no more')
  t.same(Object.fromEntries(Object.keys(marketplaceCatalog.events).map((type) => [type, [...new Set(rows.filter((r) => r.type === type).map((r) => r.topics.map((x) => x.replace(/\d+/, 'N')).join(' ')))]])), {
    'request:created': ['request:N buyer:N sellers admin'],
    'request:offer-received': ['buyer:N seller:N'],
    'request:status-updated': ['request:N buyer:N admin'],
    'offer:negotiation-update': ['buyer:N seller:N'],
    'offer:accepted': ['buyer:N seller:N admin'],
    'chat:new-message': ['chat:N'],
    'chat:message-read': ['chat:N'],
    'dispute:opened': ['buyer:N seller:N admin'],
    'dispute:resolved': ['buyer:N seller:N admin'],
    'payment:status-updated': ['buyer:N seller:N admin'],
    'payout:completed': ['seller:N admin'],
    'notification:received': ['user:N', 'sellers', 'buyers'],
  }, 'each of the twelve event types, on the topics docs/catalogs.md lists')
  const text = JSON.stringify(rows)
  for (const secret of ['secret-', 'example.com', '+1555', '4242', '111.11', '99.99', 'internalCost', 'deliveryAddress', 'providerRef', 'cardLast4', 'adminNotes', 'bankAccount', 'payoutAccount']) {
    t.notOk(text.includes(secret), `no payload carries ${secret}`)
  }

  // Everyone replays from the start over their own transport, by the roles in their token.
  const ada = await connectWs(t, service.http.port, await token('1', ['buyer']))
  for (const topic of ['user:1', 'buyer:10', 'request:100', 'chat:300', 'buyers']) t.equal((await ada.subscribeAndWait(topic, { since: ZERO })).op, 'subscribed', `Ada reads ${topic}`)
  const sol = await connectWs(t, service.http.port, await token('3', ['seller']))
  for (const topic of ['seller:2', 'request:100', 'chat:301', 'sellers']) t.equal((await sol.subscribeAndWait(topic, { since: ZERO })).op, 'subscribed', `Sol reads ${topic}`)
  const ari = await connectWs(t, service.http.port, await adminToken('4'))
  t.equal((await ari.subscribeAndWait('admin', { since: ZERO })).op, 'subscribed', 'the admin reads admin')
  const sam = await openSse(`${url}/v1/sse?topic=user:2&topic=seller:20&topic=request:100&topic=chat:300&topic=sellers&lastEventId=${ZERO}`,
    { authorization: `Bearer ${await token('2', ['seller'])}` })
  t.teardown(() => sam.close())
  t.equal(sam.status, 200, 'Sam reads his five topics on SSE')

  const expected: [TestWsClient | SseReader, string, string[]][] = [
    [ada, 'user:1', ['notification:received']],
    [ada, 'buyer:10', BUYER_10],
    [ada, 'request:100', ['request:created', 'request:status-updated', 'request:status-updated']],
    [ada, 'chat:300', ['chat:new-message', 'chat:new-message', 'chat:message-read']],
    [ada, 'buyers', ['notification:received']],
    [sol, 'seller:2', ['request:offer-received', 'offer:negotiation-update']],
    [sol, 'request:100', ['request:created', 'request:status-updated', 'request:status-updated']],
    [sol, 'chat:301', ['chat:new-message']],
    [sol, 'sellers', ['request:created', 'notification:received', 'request:created']],
    [ari, 'admin', ADMIN],
    [sam, 'user:2', ['notification:received']],
    [sam, 'seller:20', SELLER_20],
    [sam, 'request:100', ['request:created', 'request:status-updated', 'request:status-updated']],
    [sam, 'chat:300', ['chat:new-message', 'chat:new-message', 'chat:message-read']],
    [sam, 'sellers', ['request:created', 'notification:received', 'request:created']],
  ]
  const framesOf = (client: TestWsClient | SseReader) => ('ws' in client ? client.frames : sseFrames(client))
  await waitFor(() => expected.every(([client, topic, types]) => eventsOf(framesOf(client), topic).length >= types.length), 20_000, 'every replay')
  for (const [client, topic, types] of expected) {
    t.same(typesOf(framesOf(client), topic), types, `${'ws' in client ? 'WebSocket' : 'SSE'}: ${topic}`)
  }
  t.same([...new Set(ada.events().map((f) => f.data?.requestId).filter((id) => id !== undefined))], ['100'], 'nothing of Bo\'s request reaches Ada')

  const buyer = eventsOf(ada.frames, 'buyer:10')
  const offerIds = { requestId: '100', sellerId: '20', buyerId: '10' }
  t.same(buyer.slice(0, 6).map((f) => f.data), [
    { requestId: '100', buyerId: '10', title: 'Desk', description: 'oak, 160 cm', category: 'furniture', budget: '600.00', currency: 'EUR', status: 'open', createdAt: ISO },
    { offerId: '200', ...offerIds, price: '240.00', currency: 'EUR', message: 'beech', createdAt: ISO },
    { offerId: '201', requestId: '100', sellerId: '2', buyerId: '10', price: '225.00', currency: 'EUR', message: 'pine', createdAt: ISO },
    { requestId: '100', buyerId: '10', from: 'open', to: 'negotiating', updatedAt: ISO },
    { offerId: '200', ...offerIds, price: '230.00', previousPrice: '240.00', currency: 'EUR', round: 2, status: 'countered', by: 'seller' },
    { offerId: '200', ...offerIds, price: '230.00', currency: 'EUR', round: 2, acceptedAt: ISO },
  ], 'money as Postgres prints it, the round as a number, timestamps as ISO-8601')
  t.same(eventsOf(ada.frames, 'chat:300').map((f) => f.data), [
    { chatId: '300', messageId: '400', senderId: '1', body: 'Could you do 220?', sentAt: ISO },
    { chatId: '300', messageId: '401', senderId: '2', body: '230, ships tomorrow', sentAt: ISO },
    { chatId: '300', userId: '2', messageId: '400', readAt: ISO },
  ], 'the read mark once: rewriting its time is no event')
  t.same(eventsOf(sseFrames(sam), 'seller:20').slice(3).map((f) => [f.type, f.data]), [
    ['payment:status-updated', { paymentId: '500', offerId: '200', ...offerIds, amount: '230.00', currency: 'EUR', from: null, to: 'pending', updatedAt: ISO }],
    ['payment:status-updated', { paymentId: '500', offerId: '200', ...offerIds, amount: '230.00', currency: 'EUR', from: 'pending', to: 'captured', updatedAt: ISO }],
    ['dispute:opened', { disputeId: '600', offerId: '200', ...offerIds, openedBy: '1', reason: 'scratched', openedAt: ISO }],
    ['dispute:resolved', { disputeId: '600', offerId: '200', ...offerIds, resolution: 'refund 20', resolvedAt: ISO }],
    ['payout:completed', { payoutId: '700', sellerId: '20', paymentId: '500', amount: '210.00', currency: 'EUR', completedAt: ISO }],
  ], 'the seller on SSE: payment, dispute and payout, filled in with the offer\'s parties')
  t.same([...eventsOf(ada.frames, 'user:1'), ...eventsOf(ada.frames, 'buyers')].map((f) => f.data), [
    { notificationId: '800', audience: 'user', userId: '1', kind: 'offer', title: 'For Ada', body: '', createdAt: ISO },
    { notificationId: '803', audience: 'buyers', userId: null, kind: 'news', title: 'To buyers', body: '', createdAt: ISO },
  ], 'her own notification and the buyers\' broadcast, not Sam\'s nor the sellers\'')

  // Live, after the replay: the next message reaches both participants at once.
  await tdb.query(`INSERT INTO marketplace.chat_messages (chat_id, sender_id, body) VALUES (300, 1, 'live')`)
  await ada.next((f) => f.type === 'chat:new-message' && f.data?.body === 'live', 15_000)
  await waitFor(() => sseFrames(sam).some((f) => f.type === 'chat:new-message' && f.data?.body === 'live'), 15_000, 'the live message on SSE')
  t.pass('a live chat message reaches both participants')
})

t.test('I10: marketplace access: profiles, requests and chats only to the rows that admit the reader; another\'s id, a guessed one and a malformed one get the identical refusal; broadcasts by role only; no admin bypass', async (t) => {
  const { tdb, service, url } = await startMarketplace(t)
  await marketDay(tdb)
  await waitForHistory(tdb, 22)
  const ada = await connectWs(t, service.http.port, await token('1', ['buyer']))
  const refusal = async (client: TestWsClient, topic: string) => {
    const frame = await client.subscribeAndWait(topic, { ref: 'r' })
    return { ...frame, topic: undefined }
  }
  for (const topic of ['user:1', 'buyer:10', 'request:100', 'chat:300', 'buyers']) t.equal((await ada.subscribeAndWait(topic)).op, 'subscribed', `Ada reads ${topic}`)
  const forbidden = await refusal(ada, 'buyer:1')
  t.same([forbidden.op, forbidden.code], ['error', 'forbidden'], 'buyer:1 is Bo\'s profile, though 1 is Ada\'s user id')
  for (const topic of ['buyer:424242', 'buyer:01', 'buyer:abc', 'buyer:10 OR 1=1', 'seller:20', 'seller:1', 'request:101', 'request:424242', 'chat:301', 'chat:424242', 'user:2', 'user:01']) {
    t.same(await refusal(ada, topic), forbidden, `Ada is refused ${topic}, identically`)
  }
  const queries = service.authorizer.stats().membershipQueries
  await refusal(ada, 'request:01')
  await refusal(ada, 'seller:abc')
  t.equal(service.authorizer.stats().membershipQueries, queries + 2, 'a malformed id takes the same path as a foreign one, through the same query')
  for (const topic of ['sellers', 'admin']) t.same(await refusal(ada, topic), forbidden, `a buyer is refused ${topic}`)

  const sam = await connectWs(t, service.http.port, await token('2', ['seller']))
  for (const topic of ['user:2', 'seller:20', 'request:100', 'chat:300', 'chat:301', 'sellers']) t.equal((await sam.subscribeAndWait(topic)).op, 'subscribed', `Sam reads ${topic}`)
  for (const topic of ['seller:2', 'buyer:10', 'buyer:2', 'request:101', 'buyers', 'admin', 'user:3']) t.same(await refusal(sam, topic), forbidden, `Sam is refused ${topic}`)

  const both = await connectWs(t, service.http.port, await token('3', ['buyer', 'seller']))
  for (const topic of ['sellers', 'buyers']) t.equal((await both.subscribeAndWait(topic)).op, 'subscribed', `a token with both roles reads ${topic}`)
  t.same(await refusal(both, 'admin'), forbidden, 'but not admin')
  const roleless = await connectWs(t, service.http.port, await signToken('5'))
  for (const topic of ['sellers', 'buyers', 'admin']) t.same(await refusal(roleless, topic), forbidden, `a token without roles is refused ${topic}`)
  t.equal((await roleless.subscribeAndWait('buyer:1')).op, 'subscribed', 'Bo reads his own buyer profile by its id')

  const ari = await connectWs(t, service.http.port, await adminToken('4'))
  t.equal((await ari.subscribeAndWait('admin')).op, 'subscribed', 'the admin reads admin')
  for (const topic of ['user:1', 'buyer:10', 'seller:20', 'request:100', 'chat:300', 'sellers', 'buyers']) {
    t.same(await refusal(ari, topic), forbidden, `no admin bypass: ${topic} is refused to the admin`)
  }

  const auth = { authorization: `Bearer ${await token('1', ['buyer'])}` }
  const sseForeign = await openSse(`${url}/v1/sse?topic=request:101`, auth)
  const sseGuessed = await openSse(`${url}/v1/sse?topic=request:424242`, auth)
  t.equal(sseForeign.status, 403, 'SSE: Bo\'s request is refused to Ada')
  t.same([sseGuessed.status, JSON.stringify(sseGuessed.body).replaceAll('424242', '101')], [sseForeign.status, JSON.stringify(sseForeign.body)], 'SSE: a guessed one identically')
  for (const topic of ['buyer:1', 'seller:20', 'chat:301', 'sellers', 'admin']) {
    const sse = await openSse(`${url}/v1/sse?topic=buyer:10&topic=${topic}`, auth)
    t.equal(sse.status, 403, `SSE: ${topic} in a list of Ada's own topics refuses the stream`)
  }
  const pollForeign = await fetch(`${url}/v1/events?topic=chat:301`, { headers: auth })
  const pollGuessed = await fetch(`${url}/v1/events?topic=chat:424242`, { headers: auth })
  t.equal(pollForeign.status, 403, 'polling: a chat Ada is no participant of is refused')
  t.same([pollGuessed.status, (await pollGuessed.text()).replaceAll('424242', '301')], [pollForeign.status, await pollForeign.text()], 'polling: a guessed chat identically')
  const own = await fetch(`${url}/v1/events?topic=chat:300&after=${ZERO}`, { headers: auth })
  t.equal(own.status, 200, 'polling: her own chat')
  t.same(((await own.json()) as { events: { type: string }[] }).events.map((e) => e.type), ['chat:new-message', 'chat:new-message', 'chat:message-read'])
})

t.test('marketplace: access follows the rows: a seller reads a request from their first offer on, replaying it whole; the schema refuses every change that would end an access without an event', async (t) => {
  const { tdb, service } = await startMarketplace(t)
  await marketDay(tdb)
  await waitForHistory(tdb, 22)
  const sam = await connectWs(t, service.http.port, await token('2', ['seller']))
  t.equal((await sam.subscribeAndWait('seller:20')).op, 'subscribed')
  t.equal((await sam.subscribeAndWait('request:101', { ref: 'before' })).code, 'forbidden', 'Bo\'s request: Sam made no offer yet')
  await tdb.query(`INSERT INTO marketplace.offers (id, request_id, seller_id, price, currency) VALUES (202, 101, 20, 15, 'EUR')`)
  const received = await sam.next((f) => f.type === 'request:offer-received' && f.data?.offerId === '202', 15_000)
  t.same([received.topic, received.data?.buyerId], ['seller:20', '1'], 'his offer on his seller topic, naming Bo\'s buyer profile')
  t.equal((await sam.subscribeAndWait('request:101', { since: ZERO })).op, 'subscribed', 'with the offer, the request is his to read')
  await sam.next((f) => f.topic === 'request:101' && f.type === 'request:created', 15_000)
  t.same(typesOf(sam.frames, 'request:101'), ['request:created'], 'replayed from its start')
  await tdb.query(`UPDATE marketplace.purchase_requests SET status = 'cancelled' WHERE id = 101`)
  await sam.next((f) => f.topic === 'request:101' && f.type === 'request:status-updated', 15_000)
  t.match(eventsOf(sam.frames, 'request:101')[1]!.data, { requestId: '101', buyerId: '1', from: 'open', to: 'cancelled' }, 'and hears it live')

  const refused = async (text: string, pattern: RegExp, what: string) => {
    const error = await tdb.query(text).then(() => undefined, (err: Error) => err)
    t.match(error?.message ?? 'it was accepted', pattern, what)
  }
  await refused(`UPDATE marketplace.sellers SET user_id = 2 WHERE id = 2`, /sellers\.user_id cannot change/, 'a seller profile cannot be handed to another user')
  await refused(`UPDATE marketplace.buyers SET user_id = 1 WHERE id = 1`, /buyers\.user_id cannot change/, 'nor a buyer profile')
  await refused(`UPDATE marketplace.purchase_requests SET buyer_id = 1 WHERE id = 100`, /purchase_requests\.buyer_id cannot change/, 'nor a request to another buyer')
  await refused(`DELETE FROM marketplace.request_participants WHERE request_id = 100 AND user_id = 3`, /request_participants row cannot be removed/, 'a bidder stays a participant')
  await refused(`UPDATE marketplace.request_participants SET user_id = 5 WHERE request_id = 100 AND user_id = 3`, /cannot change/, 'and cannot be swapped for another user')
  await refused(`DELETE FROM marketplace.chat_participants WHERE chat_id = 300 AND user_id = 2`, /chat_participants row cannot be removed/, 'a chat participant stays one')
  await refused(`UPDATE marketplace.chat_participants SET chat_id = 301 WHERE chat_id = 300 AND user_id = 1`, /cannot change/, 'and cannot move to another chat')
  await refused(`INSERT INTO marketplace.chat_messages (chat_id, sender_id, body) VALUES (300, 3, 'intruder')`, /chat_messages_chat_id_sender_id_fkey/, 'only a participant writes to a chat')
  await refused(`INSERT INTO marketplace.offers (request_id, seller_id, buyer_id, price, currency) VALUES (100, 2, 1, 1, 'EUR')`, /offers_request_id_buyer_id_fkey/, 'an offer names its request\'s own buyer, never another')
  await refused(`INSERT INTO marketplace.payments (offer_id, request_id, buyer_id, seller_id, amount, currency) VALUES (200, 100, 1, 20, 1, 'EUR')`, /fkey/, 'a payment names its offer\'s own parties')
  await refused(`INSERT INTO marketplace.notifications (audience, user_id, kind, title) VALUES ('sellers', 1, 'k', 't')`, /check/, 'a broadcast names no user')

  // Going with the parent is allowed: the topic carries nothing after it.
  await tdb.query(`DELETE FROM marketplace.purchase_requests WHERE id = 100`)
  const left = await tdb.query<{ requests: number; chats: number }>(`SELECT
    (SELECT count(*)::int FROM marketplace.request_participants WHERE request_id = 100) AS requests,
    (SELECT count(*)::int FROM marketplace.chat_participants WHERE chat_id = 300) AS chats`)
  t.same(left.rows[0], { requests: 0, chats: 0 }, 'a deleted request takes its participants, chats and their participants with it')
  await tdb.query(`DELETE FROM users WHERE id = 3`)
  t.equal((await tdb.query(`SELECT 1 FROM marketplace.chat_participants WHERE user_id = 3`)).rowCount, 0, 'so does a deleted user')
})

t.test('the SDK typed by the marketplace\'s event map: Ada over the WebSocket and Sam over SSE follow their chat and offers live; a foreign chat is refused on the subscription alone', async (t) => {
  const { tdb, url } = await startMarketplace(t)
  await marketDay(tdb)
  await waitForHistory(tdb, 22)
  const connect = async (sub: string, roles: string[], transport: 'websocket' | 'sse', topics: string[]) => {
    const client = createClient<MarketplaceEventMap>({ url, token: await token(sub, roles), transports: [transport], WebSocket: WebSocket as unknown as WebSocketConstructor })
    t.teardown(() => client.close())
    const events: WalcastEvent<MarketplaceEventMap>[] = []
    for (const topic of topics) client.subscribe(topic, (event) => events.push(event))
    await waitFor(() => topics.every((topic) => client.subscriptionState(topic)?.state !== 'pending'), 15_000, `${sub}'s subscriptions`)
    return { client, events }
  }
  const ada = await connect('1', ['buyer'], 'websocket', ['chat:300', 'buyer:10', 'chat:301'])
  const sam = await connect('2', ['seller'], 'sse', ['chat:300', 'seller:20'])
  t.same([ada.client.transport, sam.client.transport], ['websocket', 'sse'])
  t.match(ada.client.subscriptionState('chat:301'), { state: 'refused', code: 'forbidden' }, 'Sam and Sol\'s chat is refused to Ada')
  t.equal(ada.client.subscriptionState('chat:300')?.state, 'live', 'while her own topics stay live on the same connection')

  await tdb.query(`INSERT INTO marketplace.offers (id, request_id, seller_id, price, currency) VALUES (203, 100, 20, 219, 'EUR')`)
  await tdb.query(`INSERT INTO marketplace.chat_messages (id, chat_id, sender_id, body) VALUES (410, 300, 2, 'new offer: 219')`)
  await tdb.query(`UPDATE marketplace.chat_participants SET last_read_message_id = 410, last_read_at = now() WHERE chat_id = 300 AND user_id = 1`)
  for (const [who, client] of [['Ada', ada], ['Sam', sam]] as const) {
    const got = await waitFor(() => client.events.length >= 3 ? client.events : undefined, 15_000, `${who}'s three events`)
    const typed = got.map((event) => {
      // Narrowed by type: each branch reads fields only its event has.
      if (event.type === 'request:offer-received') return `${event.topic} offer ${event.data.offerId} ${event.data.price}`
      if (event.type === 'chat:new-message') return `${event.topic} ${event.data.senderId}: ${event.data.body}`
      if (event.type === 'chat:message-read') return `${event.topic} ${event.data.userId} read ${event.data.messageId}`
      return event.type
    })
    t.same(typed.sort(), [`${who === 'Ada' ? 'buyer:10' : 'seller:20'} offer 203 219.00`, 'chat:300 1 read 410', 'chat:300 2: new offer: 219'].sort(), `${who} gets the offer on their profile topic and the chat live`)
  }
})

t.test('the marketplace demo: seeded once, a writer whose script produces all twelve event types, bounded, and a dashboard view', async (t) => {
  const tdb = await createTestDatabase(t, { prepared: false })
  const { service } = await startFeedService(t, tdb, { WALCAST_CATALOG: 'marketplace' })
  const db = service.database.db
  await marketplaceCatalog.demo!.seed(db, silentLogger())
  await marketplaceCatalog.demo!.seed(db, silentLogger())
  const counts = await tdb.query(`SELECT (SELECT count(*)::int FROM users) AS users, (SELECT count(*)::int FROM marketplace.sellers) AS sellers,
    (SELECT count(*)::int FROM marketplace.purchase_requests) AS requests, (SELECT count(*)::int FROM marketplace.request_participants) AS participants`)
  t.same(counts.rows[0], { users: 4, sellers: 2, requests: 1, participants: 2 }, 'seeded once')

  const writer = startDemoWriter(db, silentLogger(), 0, marketplaceCatalog.demo!)
  const steps: string[] = []
  for (let i = 0; i < 11; i++) steps.push(await writer.step())
  await writer.stop()
  t.match(steps[0], /^request \d+ posted$/)
  t.match(steps[9], /: Sam paid out$/)
  t.match(steps[10], /^request \d+ posted$/, 'then the next request')
  const rows = await waitFor(async () => {
    const all = await historyRows(tdb)
    return all.filter((r) => r.type === 'request:created').length >= 3 && all.some((r) => r.type === 'payout:completed') ? all : undefined
  }, 20_000, 'the seeded request, the writer\'s two and the payout')
  t.same([...new Set(rows.map((r) => r.type))].sort(), Object.keys(marketplaceCatalog.events).sort(), 'every event type of the catalog')
  const text = JSON.stringify(rows)
  for (const secret of ['example.com', 'Demo Street', 'pi_demo', '4242', 'DE00', 'check the courier', '150.00']) t.notOk(text.includes(secret), `no payload carries ${secret}`)
  const requestId = /^request (\d+)/.exec(steps[0]!)![1]!
  t.same(rows.filter((r) => r.topics.includes(`request:${requestId}`)).map((r) => r.type === 'request:created' ? 'created' : `${r.payload.from}→${r.payload.to}`),
    ['created', 'open→negotiating', 'negotiating→awarded', 'awarded→completed'], 'the request\'s life on its topic')
  t.same(rows.filter((r) => r.type === 'notification:received').map((r) => r.topics[0]), ['user:1', 'user:2', 'user:3', 'user:4', 'sellers', 'buyers'], 'Ada, Sam, Sol and Ari are told; each role hears its broadcast')

  const overview = await overviewFor(db, marketplaceCatalog, '1')
  t.equal(overview.title, 'Your marketplace')
  t.same(overview.rows.slice(0, 1).map((r) => [r.topic, r.cells.kind]), [['buyer:1', 'Buyer profile']], 'Ada\'s buyer profile first')
  t.same(overview.rows.filter((r) => r.topic.startsWith('request:')).map((r) => r.topic), [`request:${/^request (\d+)/.exec(steps[10]!)![1]}`, `request:${requestId}`, 'request:1'], 'then her requests, newest first')
  t.same(overview.rows.filter((r) => r.topic.startsWith('chat:')).map((r) => r.cells.status), ['1 unread', '1 unread'], 'and her chats with what she has not read')
  t.same(overview.topics.slice(0, 2), [{ topic: 'user:1', label: 'yours' }, { topic: 'buyers', label: 'every buyer' }], 'her own topic, her role\'s broadcast')
  t.same(overview.topics.slice(2).map((x) => x.topic), overview.rows.map((r) => r.topic), 'then each row\'s topic')
  const sam = await overviewFor(db, marketplaceCatalog, '2')
  t.same(sam.rows[0]!.cells, { kind: 'Seller profile', what: 'Sam\'s Workshop', status: '' }, 'Sam sees his seller profile')
  const ari = await overviewFor(db, marketplaceCatalog, '4')
  t.same(ari.rows, [], 'the admin has no rows of their own')

  // Bounded: a long-running demo keeps its newest requests and notifications only.
  await tdb.query(`INSERT INTO marketplace.purchase_requests (buyer_id, title, description, currency) SELECT 1, 'old ' || g, $1, 'EUR' FROM generate_series(1, 15) g`, [DEMO_DESCRIPTION])
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (99, 'Not a demo user')`)
  await tdb.query(`INSERT INTO marketplace.notifications (audience, user_id, kind, title) VALUES ('user', 99, 'k', 'kept')`)
  await tdb.query(`INSERT INTO marketplace.notifications (audience, user_id, kind, title) SELECT 'user', 1, 'k', 'n' || g FROM generate_series(1, 80) g`)
  const again = startDemoWriter(db, silentLogger(), 0, marketplaceCatalog.demo!)
  const posted = await again.step()
  t.match(posted, /^request \d+ posted$/)
  const left = await tdb.query<{ requests: number; notifications: number; seeded: number; other: number }>(`SELECT
    (SELECT count(*)::int FROM marketplace.purchase_requests WHERE description = $1) AS requests,
    (SELECT count(*)::int FROM marketplace.notifications WHERE user_id <> 99) AS notifications,
    (SELECT count(*)::int FROM marketplace.purchase_requests WHERE id = 1) AS seeded,
    (SELECT count(*)::int FROM marketplace.notifications WHERE user_id = 99) AS other`, [DEMO_DESCRIPTION])
  t.same(left.rows[0], { requests: DEMO_REQUESTS_KEPT, notifications: DEMO_NOTIFICATIONS_KEPT, seeded: 1, other: 1 },
    'the newest demo requests and notifications are kept; the seeded request and another user\'s notification are not the writer\'s to prune')

  // A request deleted under the writer: that step fails, and the writer starts a new request.
  await tdb.query(`DELETE FROM marketplace.purchase_requests WHERE id = $1`, [/^request (\d+)/.exec(posted)![1]])
  await t.rejects(again.step(), 'the step on the deleted request fails')
  t.match(await again.step(), /^request \d+ posted$/, 'the next one posts a new request')
  await again.stop()
})

t.test('I16: marketplace chats take typing indicators and presence from their participants only, live, never stored', async (t) => {
  const { tdb, service } = await startMarketplace(t)
  await marketDay(tdb)
  const stored = await waitForHistory(tdb, 22)
  const port = service.http.port
  const ada = await connectWs(t, port, await token('1', ['buyer']))
  const sam = await connectWs(t, port, await token('2', ['seller']))
  const sol = await connectWs(t, port, await token('3', ['seller']))
  t.equal((await ada.subscribeAndWait('chat:300')).op, 'subscribed')
  t.equal((await sam.subscribeAndWait('chat:300')).op, 'subscribed')
  t.equal((await sol.subscribeAndWait('chat:300')).op, 'error', 'Sol is not in Ada and Sam\'s chat')
  t.equal((await sol.subscribeAndWait('chat:301')).op, 'subscribed')

  ada.send({ op: 'publish', topic: 'chat:300', type: 'chat:typing' })
  t.match(await sam.next((f) => f.op === 'ephemeral'), { op: 'ephemeral', topic: 'chat:300', type: 'chat:typing', from: '1' }, 'Sam sees Ada typing')
  sol.send({ op: 'publish', topic: 'chat:300', type: 'chat:typing', ref: 'tamper' })
  t.equal((await sol.next((f) => f.ref === 'tamper')).code, 'forbidden', 'naming a chat one is not in is refused')
  sam.send({ op: 'publish', topic: 'seller:20', type: 'chat:typing', ref: 'not-chat' })
  t.equal((await sam.next((f) => f.ref === 'not-chat')).code, 'not_ephemeral', 'only chats take ephemeral messages')
  ada.send({ op: 'presence', topic: 'chat:300', ref: 'who' })
  t.same((await ada.next((f) => f.ref === 'who')).users, ['1', '2'], 'both participants are there')
  t.same(sol.frames.filter((f) => f.op === 'ephemeral' || (f.op === 'presence' && f.topic === 'chat:300')), [], 'nothing of chat 300 reaches Sol')

  await tdb.query(`INSERT INTO marketplace.chat_messages (id, chat_id, sender_id, body) VALUES (411, 300, 1, 'done typing')`)
  const after = await waitForHistory(tdb, stored.length + 1)
  t.notOk(after.some((row) => row.type.startsWith('chat:typing') || row.type === 'chat:stopped-typing'), 'the history holds no typing indicator')
})

t.test('the marketplace dashboard: a dev sign-in carries the user\'s roles, so the page reads its role broadcasts, and the token opens them', async (t) => {
  const tdb = await createTestDatabase(t, { prepared: false })
  const { service, url } = await startFeedService(t, tdb, { WALCAST_CATALOG: 'marketplace', WALCAST_DEV: '1' })
  await marketplaceCatalog.demo!.seed(service.database.db, silentLogger())
  const signIn = async (user: string) => (await (await fetch(`${url}/v1/dev/token?user=${user}`)).json()) as { token: string; user: { roles: string[] } }
  const overview = async (token: string) => (await (await fetch(`${url}/v1/dev/overview`, { headers: { authorization: `Bearer ${token}` } })).json()) as { topics: { topic: string }[] }
  const sam = await signIn('2')
  t.same(sam.user.roles, ['seller'], 'Sam sells')
  t.same((await overview(sam.token)).topics.map((x) => x.topic).slice(0, 2), ['user:2', 'sellers'], 'his page reads his own topic and the sellers\' broadcast')
  const ari = await signIn('4')
  t.same((await overview(ari.token)).topics.map((x) => x.topic).slice(0, 2), ['user:4', 'admin'], 'the admin reads admin')
  const ws = await connectWs(t, service.http.port, sam.token)
  t.equal((await ws.subscribeAndWait('sellers')).op, 'subscribed', 'the dev token opens the broadcast')
  t.equal((await ws.subscribeAndWait('buyers')).op, 'error', 'and not another role\'s')
})
