import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { startTestService, waitForHistory } from '../helpers/service.ts'
import { waitFor } from '../helpers/wait.ts'
import { adminToken, authEnv, signToken } from '../helpers/tokens.ts'
import { connectWs, type TestWsClient } from '../helpers/ws-client.ts'

t.test('topic authorization and live membership', async (t) => {
  const tdb = await createTestDatabase(t)
  const service = await startTestService(t, tdb, authEnv())
  const port = service.http.port
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'Buyer'), (2, 'Seller'), (3, 'Outsider'), (4, 'Invited')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (100, 'Shared', 1, 'EUR'), (200, 'Foreign', 1, 'EUR')`)
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role, accepted_at) VALUES (100, 1, 'buyer', now()), (100, 2, 'seller', now()), (200, 2, 'buyer', now())`)
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role) VALUES (200, 4, 'arbiter')`)
  // Two escrows created, three parties accepted: let those events pass before subscribing.
  const setup = await waitForHistory(tdb, 5)
  await waitFor(() => (service.hub.lastId() ?? '') >= setup[4]!.id, 10_000, 'the setup events published')
  const connect = async (sub: string, admin = false): Promise<TestWsClient> => connectWs(t, port, admin ? await adminToken(sub) : await signToken(sub))
  const answer = async (client: TestWsClient, topic: string, ref = 'r'): Promise<Record<string, unknown>> => {
    const frame = await client.subscribeAndWait(topic, { ref })
    return frame.op === 'error' ? { op: frame.op, code: frame.code, ref: frame.ref, message: frame.message } : { op: frame.op, topic: frame.topic, ref: frame.ref }
  }

  t.test('every rule', async (t) => {
    const buyer = await connect('1')
    const admin = await connect('99', true)
    const invited = await connect('4')
    const forbidden = { op: 'error', code: 'forbidden', ref: 'r', message: 'not allowed to read this topic' }
    t.same(await answer(buyer, 'escrow:100'), { op: 'subscribed', topic: 'escrow:100', ref: 'r' }, 'a party reads its escrow')
    t.same(await answer(buyer, 'escrow:200'), forbidden, 'not a foreign escrow')
    t.same(await answer(buyer, 'escrow:999999'), forbidden, 'nor a nonexistent one: the same answer')
    t.same(await answer(buyer, 'user:1'), { op: 'subscribed', topic: 'user:1', ref: 'r' }, 'its own user topic')
    t.same(await answer(buyer, 'user:2'), forbidden, 'not another user\'s')
    t.same(await answer(buyer, 'admin:disputes'), forbidden, 'admin topics are for admins')
    for (const topic of ['escrow:', 'escrow:abc', 'escrow:-1', 'escrow:99999999999999999999999', 'user:', 'admin:other', 'notifications', 'ESCROW:100', 'escrow:100 ']) {
      t.same(await answer(buyer, topic), forbidden, `unknown topic ${JSON.stringify(topic)}`)
    }
    t.same(await answer(invited, 'escrow:200'), { op: 'subscribed', topic: 'escrow:200', ref: 'r' }, 'a party row (even not yet accepted) is a party')
    t.same(await answer(admin, 'escrow:200'), { op: 'subscribed', topic: 'escrow:200', ref: 'r' }, 'admins read every escrow')
    t.same(await answer(admin, 'escrow:424242'), { op: 'subscribed', topic: 'escrow:424242', ref: 'r' }, 'even one that does not exist yet')
    t.same(await answer(admin, 'admin:disputes'), { op: 'subscribed', topic: 'admin:disputes', ref: 'r' })
    t.same(await answer(admin, 'user:1'), forbidden, 'a user topic is only that user\'s, admin or not')
    t.same(await answer(admin, 'user:99'), { op: 'subscribed', topic: 'user:99', ref: 'r' })
    t.same(await answer(buyer, 'escrow:100', 'again'), { op: 'subscribed', topic: 'escrow:100', ref: 'again' }, 'subscribing again is confirmed without change')

    await tdb.query(`INSERT INTO disputes (escrow_id, filed_by, reason) VALUES (200, 2, 'late')`)
    await tdb.query(`INSERT INTO notifications (user_id, kind, title) VALUES (1, 'k', 'for buyer'), (2, 'k', 'for seller')`)
    await tdb.query(`UPDATE escrows SET status = 'funded' WHERE id = 100`)
    await buyer.next((f) => f.op === 'event' && f.topic === 'escrow:100')
    await admin.next((f) => f.op === 'event' && f.topic === 'admin:disputes')
    t.same(buyer.events().map((e) => [e.topic, e.type]), [['user:1', 'notification:new'], ['escrow:100', 'escrow:status_changed']], 'the buyer sees its own events only')
    t.same(admin.events('admin:disputes').map((e) => e.type), ['escrow:dispute_filed'])
    t.same(admin.events('escrow:200').map((e) => e.type), ['escrow:dispute_filed'], 'an event on two topics arrives once per subscribed topic')
    t.same(invited.events().map((e) => e.type), ['escrow:dispute_filed'])
  })

  t.test('I10: a nonexistent and a foreign escrow: same answer, same path, same time', async (t) => {
    const outsider = await connect('3')
    const before = service.authorizer.stats().membershipQueries
    const times: Record<string, number[]> = { foreign: [], missing: [] }
    for (let i = 0; i < 12; i++) {
      for (const [kind, topic] of [['foreign', 'escrow:200'], ['missing', `escrow:${900000 + i}`]] as const) {
        const started = performance.now()
        const frame = await outsider.subscribeAndWait(topic, { ref: `${kind}${i}` })
        times[kind]!.push(performance.now() - started)
        t.same({ op: frame.op, code: frame.code, message: frame.message }, { op: 'error', code: 'forbidden', message: 'not allowed to read this topic' })
      }
    }
    t.equal(service.authorizer.stats().membershipQueries - before, 24, 'each answer asked the database once: no shortcut for either case')
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
    t.ok(Math.abs(median(times.foreign!) - median(times.missing!)) < 50, `median times are alike (${median(times.foreign!).toFixed(1)} vs ${median(times.missing!).toFixed(1)} ms)`)
  })

  t.test('I7: party_left revokes at once; nothing after it reaches the user', async (t) => {
    const sellerA = await connect('2')
    const sellerB = await connect('2')
    const buyer = await connect('1')
    for (const client of [sellerA, sellerB, buyer]) t.equal((await client.subscribeAndWait('escrow:100')).op, 'subscribed')
    t.equal((await sellerA.subscribeAndWait('escrow:200')).op, 'subscribed')
    // One transaction: an event before the delete, the delete, an event after it.
    await tdb.query(`BEGIN; UPDATE escrows SET status = 'in_progress' WHERE id = 100; DELETE FROM escrow_parties WHERE escrow_id = 100 AND user_id = 2; UPDATE escrows SET status = 'completed' WHERE id = 100; COMMIT`)
    await tdb.query(`UPDATE escrows SET status = 'refunded' WHERE id = 100`)
    await buyer.next((f) => f.op === 'event' && f.data?.to === 'refunded')
    const buyerTypes = buyer.events('escrow:100').map((e) => `${e.type}:${String(e.data?.to ?? e.data?.userId)}`)
    t.same(buyerTypes, ['escrow:status_changed:in_progress', 'escrow:party_left:2', 'escrow:status_changed:completed', 'escrow:status_changed:refunded'], 'the remaining party sees everything')
    for (const seller of [sellerA, sellerB]) {
      await seller.next((f) => f.op === 'unsubscribed')
      const frames = seller.frames.filter((f) => f.topic === 'escrow:100').map((f) => f.op === 'event' ? `${f.type}` : `${f.op}${f.reason ? `:${f.reason}` : ''}`)
            t.same(frames, ['subscribed', 'escrow:status_changed', 'escrow:party_left', 'unsubscribed:revoked'], 'up to and including its own leaving, then revoked')
    }
    t.same(sellerA.frames.find((f) => f.op === 'unsubscribed'), { op: 'unsubscribed', topic: 'escrow:100', reason: 'revoked' })
    // Still a party of escrow 200: that subscription is untouched.
    await tdb.query(`UPDATE escrows SET status = 'funded' WHERE id = 200`)
    await sellerA.next((f) => f.op === 'event' && f.topic === 'escrow:200')
    t.notOk(sellerA.events('escrow:100').some((e) => e.data?.to === 'refunded'), 'no later event of the escrow')
    t.equal((await sellerA.subscribeAndWait('escrow:100', { ref: 'back' })).code, 'forbidden', 'and it cannot subscribe again')
    t.equal((await sellerA.subscribeAndWait('escrow:100', { ref: 'replay', since: '0000000000000000-00000000' })).code, 'forbidden', 'nor replay events from when it was a party')
    t.ok(service.gateway.stats().revocations >= 2)
  })

  t.test('party_joined: the next subscribe succeeds at once', async (t) => {
    const outsider = await connect('3')
    const buyer = await connect('1')
    t.equal((await buyer.subscribeAndWait('escrow:100')).op, 'subscribed')
    t.equal((await outsider.subscribeAndWait('escrow:100', { ref: 'before' })).code, 'forbidden')
    await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role, accepted_at) VALUES (100, 3, 'arbiter', now())`)
    await buyer.next((f) => f.type === 'escrow:party_joined')
    t.equal((await outsider.subscribeAndWait('escrow:100', { ref: 'after' })).op, 'subscribed', 'no cache to wait out')
    const queries = service.authorizer.stats().membershipQueries
    const hits = service.authorizer.stats().cacheHits
    const second = await connect('3')
    t.equal((await second.subscribeAndWait('escrow:100')).op, 'subscribed')
    t.equal(service.authorizer.stats().membershipQueries, queries, 'a known membership is answered from the cache')
    t.equal(service.authorizer.stats().cacheHits, hits + 1)
    // Leaving again clears the cache entry.
    await tdb.query(`DELETE FROM escrow_parties WHERE escrow_id = 100 AND user_id = 3`)
    await second.next((f) => f.op === 'unsubscribed' && f.reason === 'revoked')
    await outsider.next((f) => f.op === 'unsubscribed' && f.reason === 'revoked')
    t.equal((await second.subscribeAndWait('escrow:100', { ref: 'gone' })).code, 'forbidden')
    t.equal(service.authorizer.stats().revocations, 2, "one revocation per party_left event")
  })
})
