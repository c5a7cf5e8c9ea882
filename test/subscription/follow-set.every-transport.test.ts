import t from 'tap'
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts'
import { waitPublished } from '../helpers/escrow-fixture.ts'
import { openSse, startFeedService } from '../helpers/feed.ts'
import { historyRows } from '../helpers/service.ts'
import { adminToken, signToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'
import { connectWs, type ServerFrame } from '../helpers/ws-client.ts'

const FOLLOW = 'user:1:escrows'

/** Users 1-2; escrows 1-3: user 1 a party of 1, user 2 of 2, nobody of 3 yet. */
async function seed(tdb: TestDatabase): Promise<void> {
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'Ada'), (2, 'Sam')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (1, 'A', 1, 'EUR'), (2, 'B', 1, 'EUR'), (3, 'C', 1, 'EUR')`)
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role, accepted_at) VALUES (1, 1, 'buyer', now()), (2, 2, 'buyer', now())`)
}

const status = (tdb: TestDatabase, id: number, to: string) => tdb.query(`UPDATE escrows SET status = $1 WHERE id = $2`, [to, id])
const described = (frames: readonly ServerFrame[]) => frames.map((f) => `${f.type}#${String(f.data?.escrowId)}${f.data?.to === undefined ? '' : `:${String(f.data.to)}`}`)

/**
 * The life of a follow set, as every transport must show it: its escrows now, one joined
 * (its party_joined and everything after), one left (its party_left, then nothing).
 * Returns the id of the last event written.
 */
async function script(tdb: TestDatabase, service: { hub: { lastId(): string | undefined } }, base: number): Promise<string> {
  await status(tdb, 1, 'funded')
  await status(tdb, 2, 'funded')
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role, accepted_at) VALUES (3, 1, 'seller', now())`)
  await status(tdb, 3, 'funded')
  await tdb.query(`DELETE FROM escrow_parties WHERE escrow_id = 1 AND user_id = 1`)
  await status(tdb, 1, 'completed')
  await status(tdb, 3, 'completed')
  return waitPublished(service, tdb, base + 7)
}

const EXPECTED = [
  'escrow:status_changed#1:funded',
  'escrow:party_joined#3',
  'escrow:status_changed#3:funded',
  'escrow:party_left#1',
  'escrow:status_changed#3:completed',
]

t.test('I15: a follow set on the WebSocket: one subscription, join adds, leave cuts off, resume across the set, another user\'s set refused', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service } = await startFeedService(t, tdb, { WALCAST_WS_MAX_SUBSCRIPTIONS: '1' })
  await seed(tdb)
  await waitPublished(service, tdb, 5)
  const base = (await historyRows(tdb)).length
  const ws = await connectWs(t, service.http.port, await signToken('1'))
  const subscribed = await ws.subscribeAndWait(FOLLOW)
  t.equal(subscribed.op, 'subscribed', 'one subscription, within a limit of one')
  const last = await script(tdb, service, base)
  await waitFor(() => ws.events(FOLLOW).length >= EXPECTED.length, 10_000, 'the follow set\'s events')
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.same(described(ws.events(FOLLOW)), EXPECTED, 'escrow 1 until its party_left, escrow 3 from its party_joined, never escrow 2')
  t.same(ws.frames.filter((f) => f.op === 'event').length, EXPECTED.length, 'nothing under another topic')
  t.same(ws.events(FOLLOW).map((f) => f.id), ws.events(FOLLOW).map((f) => f.id).sort(), 'in id order')

  const refused = await ws.subscribeAndWait('user:2:escrows', { ref: 'x' })
  t.equal(refused.code, 'too_many_subscriptions', 'the limit counts the follow set as one')

  const other = await connectWs(t, service.http.port, await signToken('1'))
  t.equal((await other.subscribeAndWait('user:2:escrows', { ref: 'y' })).code, 'forbidden', 'a user cannot follow another user\'s set')
  const admin = await connectWs(t, service.http.port, await adminToken('9'))
  t.equal((await admin.subscribeAndWait('user:2:escrows', { ref: 'z' })).code, 'forbidden', 'nor can an admin')
  t.equal((await admin.subscribeAndWait('user:01:escrows', { ref: 'w' })).code, 'forbidden', 'no other spelling of the id')

  // Resume from the first event: the set is judged now (escrow 3 only), with one cursor.
  const first = ws.events(FOLLOW)[0]!.id!
  const resumed = await connectWs(t, service.http.port, await signToken('1'))
  resumed.subscribe(FOLLOW, { since: first })
  await resumed.next((f) => f.op === 'subscribed' && f.topic === FOLLOW)
  const expected = (await historyRows(tdb)).filter((row) => row.id > first && row.topics.includes('escrow:3'))
  t.same(resumed.events(FOLLOW).map((f) => f.id), expected.map((row) => row.id), 'every event of its escrows after since, once, in order')
  t.ok(resumed.events(FOLLOW).every((f) => f.data?.escrowId === '3'), 'none of the escrow it left')
  t.ok(last >= resumed.events(FOLLOW).at(-1)!.id!, 'up to the head')

  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role, accepted_at) VALUES (2, 1, 'arbiter', now())`)
  await status(tdb, 2, 'completed')
  await waitFor(() => resumed.events(FOLLOW).some((f) => f.data?.escrowId === '2' && f.data?.to === 'completed'), 10_000, 'the joined escrow live after a resume')
  t.pass('a resumed follow set goes on live, and takes in what the user joins')
})

t.test('I15: a follow set over SSE: the same stream, resumed with Last-Event-ID', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service, url } = await startFeedService(t, tdb)
  await seed(tdb)
  await waitPublished(service, tdb, 5)
  const base = (await historyRows(tdb)).length
  const token = await signToken('1')
  const stream = await openSse(`${url}/v1/sse?topic=${FOLLOW}`, { authorization: `Bearer ${token}` })
  t.equal(stream.status, 200)
  await waitFor(() => stream.messages.some((m) => m.event === 'subscribed'), 10_000, 'subscribed')
  await script(tdb, service, base)
  const events = (): ServerFrame[] => stream.messages.filter((m) => m.event?.startsWith('escrow:')).map((m) => JSON.parse(m.data) as ServerFrame)
  await waitFor(() => events().length >= EXPECTED.length, 10_000, 'the follow set\'s events')
  await new Promise((resolve) => setTimeout(resolve, 200))
  stream.close()
  t.same(described(events()), EXPECTED, 'the same events as on the WebSocket')
  t.ok(events().every((f) => f.topic === FOLLOW), 'framed under the follow set')

  const from = events()[1]!.id!
  const resumed = await openSse(`${url}/v1/sse?topic=${FOLLOW}`, { authorization: `Bearer ${token}`, 'last-event-id': from })
  t.teardown(() => resumed.close())
  await waitFor(() => resumed.messages.some((m) => m.event === 'subscribed'), 10_000, 'subscribed after the replay')
  const replayed = resumed.messages.filter((m) => m.event?.startsWith('escrow:')).map((m) => JSON.parse(m.data) as ServerFrame)
  const expected = (await historyRows(tdb)).filter((row) => row.id > from && row.topics.includes('escrow:3'))
  t.same(replayed.map((f) => f.id), expected.map((row) => row.id), 'replayed across the set with one cursor')

  const foreign = await openSse(`${url}/v1/sse?topic=user:2:escrows`, { authorization: `Bearer ${token}` })
  t.equal(foreign.status, 403, 'another user\'s set is refused')
})

t.test('I15: a follow set by polling: pages across the set, the resume rule, another user\'s set refused', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service, url } = await startFeedService(t, tdb)
  await seed(tdb)
  await waitPublished(service, tdb, 5)
  const base = (await historyRows(tdb)).length
  const auth = { authorization: `Bearer ${await signToken('1')}` }
  const get = async (query: string) => {
    const response = await fetch(`${url}/v1/events?${query}`, { headers: auth })
    return { status: response.status, body: await response.json() as { events: ServerFrame[]; next: string; reset: boolean; reason?: string } }
  }
  const start = (await get(`topic=${FOLLOW}&limit=0`)).body.next
  await script(tdb, service, base)
  const seen: ServerFrame[] = []
  let after = start
  for (let i = 0; i < 10; i++) {
    const page = await get(`topic=${FOLLOW}&after=${after}&limit=2`)
    t.equal(page.status, 200)
    seen.push(...page.body.events)
    after = page.body.next
    if (page.body.events.length < 2) break
  }
  const expected = (await historyRows(tdb)).filter((row) => row.id > start && row.topics.includes('escrow:3'))
  t.same(seen.map((f) => f.id), expected.map((row) => row.id), 'the set as it is now (escrow 3), in pages of 2, once, in order')
  t.ok(seen.every((f) => f.topic === FOLLOW))
  const ahead = await get(`topic=${FOLLOW}&after=ffffffffffffffff-00000000`)
  t.same([ahead.body.reset, ahead.body.reason], [true, 'unknown_position'], 'the one resume rule')
  t.equal((await get('topic=user:2:escrows')).status, 403, 'another user\'s set is refused')
})
