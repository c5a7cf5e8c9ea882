import t, { type Test } from 'tap'
import { startFeedService } from '../helpers/feed.ts'
import { createTestDatabase } from '../helpers/db.ts'
import { historyRows, waitForHistory } from '../helpers/service.ts'
import { signToken } from '../helpers/tokens.ts'
import { sleep, waitFor } from '../helpers/wait.ts'
import { connectWs, type ServerFrame, type TestWsClient } from '../helpers/ws-client.ts'

const CATALOG = 'test/fixtures/catalog-chat.ts'

async function chatService(t: Test) {
  const tdb = await createTestDatabase(t, { prepared: false })
  const { service } = await startFeedService(t, tdb, { WALCAST_CATALOG: CATALOG })
  await tdb.query(`INSERT INTO chat.rooms (id, title) VALUES (1, 'one'), (2, 'two')`)
  await tdb.query(`INSERT INTO chat.members (room_id, user_id) VALUES (1, 10), (1, 11), (1, 12), (2, 20)`)
  const connect = async (user: string): Promise<TestWsClient> => connectWs(t, service.http.port, await signToken(user))
  return { tdb, service, connect }
}

const ephemerals = (client: TestWsClient, topic?: string): ServerFrame[] => client.frames.filter((f) => f.op === 'ephemeral' && (topic === undefined || f.topic === topic))
const presences = (client: TestWsClient): ServerFrame[] => client.frames.filter((f) => f.op === 'presence' && f.users === undefined)
const answer = (client: TestWsClient, ref: string): Promise<ServerFrame> => client.next((f) => f.ref === ref)

t.test('I16: an ephemeral message reaches the topic\'s other live subscribers with the sender\'s id, never the sender, never the history, never a replay', async (t) => {
  const { tdb, service, connect } = await chatService(t)
  const alice = await connect('10')
  const bob = await connect('11')
  const carol = await connect('12')
  for (const c of [alice, bob, carol]) t.equal((await c.subscribeAndWait('chat:1')).op, 'subscribed')

  await tdb.query(`INSERT INTO chat.messages (id, room_id, user_id, body) VALUES (1, 1, 10, 'before')`)
  const [before] = await waitForHistory(tdb, 1)
  await bob.next((f) => f.op === 'event' && f.id === before!.id)

  alice.send({ op: 'publish', topic: 'chat:1', type: 'chat:typing', data: { draft: true } })
  const typing = await bob.next((f) => f.op === 'ephemeral')
  t.same({ ...typing, ts: undefined }, { op: 'ephemeral', topic: 'chat:1', type: 'chat:typing', data: { draft: true }, from: '10', ts: undefined }, 'the frame: topic, type, data and who sent it')
  t.notOk('id' in typing, 'no event id')
  t.ok(Number.isFinite(Date.parse(typing.ts!)), 'ts is the time the server accepted it')
  await carol.next((f) => f.op === 'ephemeral')
  alice.send({ op: 'publish', topic: 'chat:1', type: 'chat:stopped-typing', ref: 'no-data' })
  const stopped = await bob.next((f) => f.op === 'ephemeral' && f.type === 'chat:stopped-typing')
  t.equal(stopped.data, null, 'a message without data carries null')

  await tdb.query(`INSERT INTO chat.messages (id, room_id, user_id, body) VALUES (2, 1, 10, 'after')`)
  const rows = await waitForHistory(tdb, 2)
  await alice.next((f) => f.op === 'event' && f.id === rows[1]!.id)
  t.same(ephemerals(alice), [], 'the sender gets no copy')
  t.same(alice.frames.filter((f) => f.op === 'error'), [], 'and no error')
  t.same(rows.map((r) => r.type), ['chat:message', 'chat:message'], 'the history holds the durable events only')
  const stored = await tdb.query(`SELECT count(*)::int AS n FROM walcast.events WHERE type LIKE 'chat:%typing' OR payload::text LIKE '%draft%'`)
  t.equal(stored.rows[0]!.n, 0, 'no ephemeral message is stored')
  const window = service.hub.recentSince(['chat:1'], before!.id)
  t.same(window?.map((e) => e.id), [rows[1]!.id], 'the hub\'s window of recent events holds the durable events only')
  t.equal(service.hub.window().events, 2)

  // A client resuming from before the ephemeral messages (and one from the start) gets
  // the events between, and no ephemeral frame: there is nothing to replay.
  const late = await connect('12')
  t.equal((await late.subscribeAndWait('chat:1', { since: before!.id })).op, 'subscribed')
  const fromZero = await connect('11')
  t.equal((await fromZero.subscribeAndWait('chat:1', { since: '0000000000000000-00000000' })).op, 'subscribed')
  t.same(late.events('chat:1').map((e) => e.id), [rows[1]!.id], 'the resumed client replays the durable event after since')
  t.same(fromZero.events('chat:1').map((e) => e.id), rows.map((r) => r.id), 'every durable event from the start')
  t.same([...ephemerals(late), ...ephemerals(fromZero)], [], 'no ephemeral message is replayed')

  // Ordering of durable events is untouched: bob has both events, in order, and the
  // ephemeral frames fell between them.
  const kinds = bob.frames.filter((f) => f.op === 'event' || f.op === 'ephemeral').map((f) => f.op === 'event' ? f.id : f.type)
  t.same(kinds, [before!.id, 'chat:typing', 'chat:stopped-typing', rows[1]!.id], 'ephemeral frames interleave with events, which stay in order')
  t.equal(service.ephemeral.stats().published, 2)
})

t.test('I16: publishing is refused, with an error frame and the connection kept, unless the socket holds a live subscription to an ephemeral topic, for a declared type, within size and rate', async (t) => {
  const { connect, service } = await chatService(t)
  const alice = await connect('10')
  const bob = await connect('11')
  const mallory = await connect('20')
  t.equal((await bob.subscribeAndWait('chat:1')).op, 'subscribed')
  t.equal((await alice.subscribeAndWait('chat:1')).op, 'subscribed')
  t.equal((await alice.subscribeAndWait('room:1')).op, 'subscribed')

  const refusals: [TestWsClient, Record<string, unknown>, string][] = [
    [mallory, { topic: 'chat:1', type: 'chat:typing' }, 'forbidden'],
    [mallory, { topic: 'chat:424242', type: 'chat:typing' }, 'forbidden'],
    [alice, { topic: 'room:1', type: 'chat:typing' }, 'not_ephemeral'],
    [alice, { topic: 'nowhere:1', type: 'chat:typing' }, 'not_ephemeral'],
    [alice, { topic: 'chat:1', type: 'chat:message' }, 'not_ephemeral'],
    [alice, { topic: 'chat:1', type: 'chat:shouting' }, 'not_ephemeral'],
    [alice, { topic: 'chat:1', type: 'chat:typing', data: { text: 'x'.repeat(300) } }, 'payload_too_large'],
    [alice, { topic: 'chat:1' }, 'bad_request'],
    [alice, { topic: 'chat:1', type: 7 }, 'bad_request'],
    [alice, { topic: 'chat:1', type: 'x'.repeat(65) }, 'bad_request'],
    [alice, { topic: '', type: 'chat:typing' }, 'bad_request'],
    [alice, { type: 'chat:typing' }, 'bad_request'],
    [alice, { topic: 'c'.repeat(257), type: 'chat:typing' }, 'bad_request'],
    [alice, { topic: 'chat:1', type: 'chat:typing', ref: { no: 1 } }, 'bad_request'],
  ]
  for (const [i, [client, frame, code]] of refusals.entries()) {
    const ref = `r${i}`
    client.send({ op: 'publish', ref, ...frame })
    const got = await (frame.ref === undefined ? answer(client, ref) : client.next((f) => f.op === 'error' && f.code === 'bad_request' && /ref/.test(f.message!)))
    t.same([got.op, got.code], ['error', code], `${JSON.stringify(frame).slice(0, 80)}: ${code} (${got.message})`)
  }
  // Mallory cannot subscribe to chat:1 in the first place.
  t.equal((await mallory.subscribeAndWait('chat:1', { ref: 'sub' })).code, 'forbidden')
  mallory.send({ op: 'publish', topic: 'chat:1', type: 'chat:typing', ref: 'after-refusal' })
  t.equal((await answer(mallory, 'after-refusal')).code, 'forbidden', 'a refused subscription is no licence to publish')
  mallory.send({ op: 'presence', topic: 'chat:1', ref: 'who' })
  t.equal((await answer(mallory, 'who')).code, 'forbidden', 'nor to ask who is there')
  alice.send({ op: 'presence', topic: 'room:1', ref: 'who' })
  t.equal((await answer(alice, 'who')).code, 'not_ephemeral', 'room:1 has no presence')

  // Rate: perSecond 5, burst 10. A flood of 30 gets ~10 through and the rest refused.
  for (let i = 0; i < 30; i++) alice.send({ op: 'publish', topic: 'chat:1', type: 'chat:typing', ref: `f${i}` })
  alice.send({ op: 'ping', ref: 'flood-done' })
  await answer(alice, 'flood-done')
  const limited = alice.frames.filter((f) => f.op === 'error' && f.code === 'rate_limited' && String(f.ref).startsWith('f'))
  t.ok(limited.length >= 18 && limited.length <= 21, `the flood is cut to the burst (${30 - limited.length} passed)`)
  await waitFor(() => ephemerals(bob).length === 30 - limited.length, 5000, 'bob gets what passed')
  await sleep(450)
  alice.send({ op: 'publish', topic: 'chat:1', type: 'chat:typing', ref: 'refilled' })
  await bob.next((f) => f.op === 'ephemeral' && ephemerals(bob).length === 31 - limited.length)
  t.notOk(alice.frames.some((f) => f.ref === 'refilled'), 'the bucket refills: the next message passes')
  t.same(bob.frames.filter((f) => f.op === 'error'), [], 'the receiver saw no error')
  t.equal(alice.closeInfo(), undefined, 'refusals never close the connection')
  t.ok(service.gateway.stats().ephemeralRefused >= refusals.length - 7 + limited.length, 'refusals are counted')
  // Unsubscribed: the licence ends with the subscription.
  alice.send({ op: 'unsubscribe', topic: 'chat:1', ref: 'u' })
  await answer(alice, 'u')
  alice.send({ op: 'publish', topic: 'chat:1', type: 'chat:typing', ref: 'gone' })
  t.equal((await answer(alice, 'gone')).code, 'forbidden', 'after unsubscribe publishing is refused')
})

t.test('I16: presence: join and leave once per user (two tabs are one presence), a query lists who is there, and a revoked member leaves in stream order', async (t) => {
  const { tdb, connect } = await chatService(t)
  const alice = await connect('10')
  t.equal((await alice.subscribeAndWait('chat:1')).op, 'subscribed')
  alice.send({ op: 'presence', topic: 'chat:1', ref: 'p1' })
  t.same(await answer(alice, 'p1'), { op: 'presence', topic: 'chat:1', ref: 'p1', users: ['10'] }, 'alone: only herself')

  const bobTab1 = await connect('11')
  t.equal((await bobTab1.subscribeAndWait('chat:1')).op, 'subscribed')
  t.same(await alice.next((f) => f.op === 'presence' && f.joined === '11'), { op: 'presence', topic: 'chat:1', joined: '11' })
  const bobTab2 = await connect('11')
  t.equal((await bobTab2.subscribeAndWait('chat:1')).op, 'subscribed')
  bobTab2.send({ op: 'presence', topic: 'chat:1', ref: 'p2' })
  t.same((await answer(bobTab2, 'p2')).users, ['10', '11'], 'a second tab: the same two users')
  t.same(presences(bobTab1), [], 'the joining tab is told nothing of its own join')

  await bobTab1.close()
  alice.send({ op: 'ping', ref: 'x' })
  await answer(alice, 'x')
  await sleep(100)
  t.same(presences(alice).map((f) => f.joined ?? `-${f.left as string}`), ['11'], 'one tab closing: bob is still there')
  bobTab2.send({ op: 'unsubscribe', topic: 'chat:1' })
  t.same(await alice.next((f) => f.op === 'presence' && f.left !== undefined), { op: 'presence', topic: 'chat:1', left: '11' }, 'the last tab leaving: bob left')

  const carol = await connect('12')
  t.equal((await carol.subscribeAndWait('chat:1')).op, 'subscribed')
  await alice.next((f) => f.op === 'presence' && f.joined === '12')
  await tdb.query(`DELETE FROM chat.members WHERE room_id = 1 AND user_id = 12`)
  await carol.next((f) => f.op === 'unsubscribed' && f.reason === 'revoked')
  await alice.next((f) => f.op === 'presence' && f.left === '12')
  const aliceSeq = alice.frames.filter((f) => f.op === 'event' || (f.op === 'presence' && f.left === '12')).map((f) => f.op === 'event' ? f.type : 'left')
  t.same(aliceSeq, ['chat:member_left', 'left'], 'the revoking event first, then the presence change')
  carol.send({ op: 'publish', topic: 'chat:1', type: 'chat:typing', ref: 'revoked' })
  t.equal((await answer(carol, 'revoked')).code, 'forbidden', 'a revoked member can no longer publish')
  alice.send({ op: 'presence', topic: 'chat:1', ref: 'p3' })
  t.same((await answer(alice, 'p3')).users, ['10'])
})

t.test('I16: a socket that is still replaying gets no ephemeral message: only live sockets do', async (t) => {
  const tdb = await createTestDatabase(t, { prepared: false })
  const { service } = await startFeedService(t, tdb, { WALCAST_CATALOG: CATALOG, WALCAST_WS_REPLAY_PAGE: '20' })
  await tdb.query(`INSERT INTO chat.rooms (id, title) VALUES (1, 'one')`)
  await tdb.query(`INSERT INTO chat.members (room_id, user_id) VALUES (1, 10), (1, 11)`)
  // More than the kernel's socket buffers hold (a few MB on loopback), so a client that
  // stops reading holds its replay up.
  await tdb.query(`INSERT INTO chat.messages (id, room_id, user_id, body) SELECT g, 1, 10, repeat('x', 1500) FROM generate_series(1, 12000) g`)
  await waitForHistory(tdb, 12000, 60_000)
  const alice = await connectWs(t, service.http.port, await signToken('10'))
  t.equal((await alice.subscribeAndWait('chat:1')).op, 'subscribed')
  const bob = await connectWs(t, service.http.port, await signToken('11'))
  bob.subscribe('chat:1', { since: '0000000000000000-00000000' })
  await bob.next((f) => f.op === 'event', 15_000)
  bob.pause()
  // Bob's replay has begun and waits for him; alice types meanwhile.
  await sleep(300)
  t.equal(service.gateway.stats().subscriptions, 1, 'bob is not live yet: only alice is')
  for (let i = 0; i < 5; i++) alice.send({ op: 'publish', topic: 'chat:1', type: 'chat:typing', data: { i } })
  alice.send({ op: 'ping', ref: 'sent' })
  await alice.next((f) => f.ref === 'sent')
  const pendingWhenSent = service.gateway.stats().subscriptions === 1
  bob.resume()
  const subscribedAt = (await bob.next((f) => f.op === 'subscribed', 60_000), bob.frames.findIndex((f) => f.op === 'subscribed'))
  t.equal(bob.events('chat:1').length, 12000, 'the replay delivered every event')
  t.ok(pendingWhenSent, 'the messages were sent while bob was still replaying')
  t.same(bob.frames.slice(0, subscribedAt).filter((f) => f.op === 'ephemeral'), [], 'no ephemeral frame reaches a replaying socket')
  alice.send({ op: 'publish', topic: 'chat:1', type: 'chat:stopped-typing' })
  await bob.next((f) => f.op === 'ephemeral')
  t.same(ephemerals(bob).map((f) => f.type), ['chat:stopped-typing'], 'once live, the next one arrives; the earlier ones are gone for good')
})
