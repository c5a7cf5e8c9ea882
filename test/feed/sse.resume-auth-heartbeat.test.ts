import t from 'tap'
import { pruneBatch } from '../../src/history/prune.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts'
import { openSse, startFeedService } from '../helpers/feed.ts'
import { adminToken, signToken } from '../helpers/tokens.ts'
import { historyRows, waitForHistory } from '../helpers/service.ts'
import { waitFor } from '../helpers/wait.ts'

const EVENT_ID = /^[0-9a-f]{16}-[0-7][0-9a-f]{7}$/

async function seed(tdb: TestDatabase, service: { hub: { lastId(): string | undefined } }): Promise<void> {
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'Ada'), (2, 'Sam'), (3, 'Eve')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency, status) VALUES (1, 'A', 1, 'EUR', 'draft'), (2, 'B', 1, 'EUR', 'draft')`)
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role, accepted_at) VALUES (1, 1, 'buyer', now()), (2, 2, 'buyer', now())`)
  // The seed's own events are durable and published before a test opens a stream: one
  // published after a live stream's start would reach it and stand among the events checked.
  const seeded = await waitForHistory(tdb, 4)
  await waitFor(() => (service.hub.lastId() ?? '') >= seeded.at(-1)!.id, 15_000, 'the seed published')
}

const events = (messages: { event: string; data: string }[]) => messages.filter((m) => m.event.includes(':')).map((m) => JSON.parse(m.data) as { id: string; topic: string; type: string; data: Record<string, unknown>; op: string })

t.test('I11: refusals are JSON errors with the right status, before any stream', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service, url: base } = await startFeedService(t, tdb)
  await seed(tdb, service)
  const ada = await signToken('1')
  const cases: [string, Record<string, string>, number, string][] = [
    ['/v1/sse?topic=escrow:1', {}, 401, 'unauthorized'],
    ['/v1/sse?topic=escrow:1', { authorization: 'Bearer not.a.jwt' }, 401, 'unauthorized'],
    ['/v1/sse?topic=escrow:1', { authorization: `Bearer ${await signToken('1', { secret: 'another-secret-of-at-least-32-characters' })}` }, 401, 'unauthorized'],
    ['/v1/sse?topic=escrow:1', { authorization: `Bearer ${await signToken('1', { expiresIn: -60 })}` }, 401, 'unauthorized'],
    ['/v1/sse?topic=escrow:2', { authorization: `Bearer ${ada}` }, 403, 'forbidden'],
    ['/v1/sse?topic=escrow:999', { authorization: `Bearer ${ada}` }, 403, 'forbidden'],
    ['/v1/sse?topic=admin:disputes', { authorization: `Bearer ${ada}` }, 403, 'forbidden'],
    ['/v1/sse', { authorization: `Bearer ${ada}` }, 400, 'bad_request'],
    [`/v1/sse?topic=${'x'.repeat(300)}`, { authorization: `Bearer ${ada}` }, 400, 'bad_request'],
    ['/v1/sse?topic=escrow:1', { authorization: `Bearer ${ada}`, 'last-event-id': 'garbage' }, 400, 'bad_request'],
    [`/v1/sse?${Array.from({ length: 101 }, (_, i) => `topic=t${i}`).join('&')}`, { authorization: `Bearer ${ada}` }, 413, 'too_many_subscriptions'],
    [`/v1/sse?topic=escrow:1&pad=${'x'.repeat(17_000)}`, { authorization: `Bearer ${ada}` }, 413, 'payload_too_large'],
    ['/v1/nothing-here', {}, 404, 'not_found'],
  ]
  for (const [path, headers, status, code] of cases) {
    const stream = await openSse(`${base}${path}`, headers)
    t.equal(stream.status, status, `${path.slice(0, 40)} → ${status}`)
    t.match(stream.body, { error: { code, message: String } }, `code ${code}`)
  }
})

t.test('I3: live events, resume with Last-Event-ID or lastEventId, token in the query, heartbeat', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service, url: base } = await startFeedService(t, tdb, { WALCAST_SSE_HEARTBEAT: '150ms' })
  await seed(tdb, service)
  const ada = await signToken('1')

  const live = await openSse(`${base}/v1/sse?topic=escrow:1&topic=user:1`, { authorization: `Bearer ${ada}` })
  t.teardown(() => live.close())
  t.equal(live.status, 200)
  await waitFor(() => live.raw().includes(': heartbeat'), 5000, 'heartbeat comment')
  for (const status of ['funded', 'in_progress', 'completed']) await tdb.query(`UPDATE escrows SET status = $1 WHERE id = 1`, [status])
  await tdb.query(`UPDATE escrows SET status = 'funded' WHERE id = 2`)
  await tdb.query(`INSERT INTO notifications (user_id, kind, title) VALUES (1, 'k', 'hello')`)
  const got = await waitFor(() => (events(live.messages).length >= 4 ? events(live.messages) : undefined), 15_000, 'live events')
  t.same(got.map((e) => [e.topic, e.type]), [
    ['escrow:1', 'escrow:status_changed'], ['escrow:1', 'escrow:status_changed'], ['escrow:1', 'escrow:status_changed'], ['user:1', 'notification:new'],
  ], 'only the subscribed topics, in order')
  const withId = live.messages.filter((m) => m.event.includes(':'))
  t.same(withId.map((m) => m.id), got.map((e) => e.id), 'id: is the event id')
  t.same(withId.map((m) => m.event), got.map((e) => e.type), 'event: is the type')
  t.match(got[0], { op: 'event', id: /^[0-9a-f]{16}-[0-9a-f]{8}$/, data: { escrowId: '1', to: 'funded' }, ts: String, lsn: /\//}, 'data: is the WebSocket event frame')

  const resumed = await openSse(`${base}/v1/sse?topic=escrow:1&topic=user:1`, { authorization: `Bearer ${ada}`, 'last-event-id': got[0]!.id })
  t.teardown(() => resumed.close())
  await waitFor(() => events(resumed.messages).length >= 3, 15_000, 'replay')
  t.same(events(resumed.messages).map((e) => e.id), got.slice(1).map((e) => e.id), 'exactly the events after Last-Event-ID')
  await tdb.query(`UPDATE escrows SET status = 'refunded' WHERE id = 1`)
  await waitFor(() => events(resumed.messages).length === 4, 15_000, 'live after replay')
  t.equal(events(resumed.messages)[3]!.data.to, 'refunded', 'then live, without a gap')

  const byQuery = await openSse(`${base}/v1/sse?topic=escrow:1&token=${ada}&lastEventId=${got[1]!.id}`)
  t.teardown(() => byQuery.close())
  await waitFor(() => events(byQuery.messages).length >= 2, 15_000, 'replay by query')
  t.same(events(byQuery.messages).map((e) => e.data.to), ['completed', 'refunded'], 'token and lastEventId as query parameters')
})

t.test('an event on two subscribed topics: two messages, the id on the last', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service, url: base } = await startFeedService(t, tdb)
  await seed(tdb, service)
  const admin = await adminToken('9')
  const stream = await openSse(`${base}/v1/sse?topic=escrow:1&topic=admin:disputes`, { authorization: `Bearer ${admin}` })
  t.teardown(() => stream.close())
  await tdb.query(`INSERT INTO disputes (escrow_id, filed_by, reason) VALUES (1, 1, 'late')`)
  await waitFor(() => events(stream.messages).length >= 2, 15_000, 'two messages')
  const [first, second] = stream.messages.filter((m) => m.event === 'escrow:dispute_filed')
  t.equal(first!.id, undefined, 'no id on the first')
  t.equal(second!.id, JSON.parse(second!.data).id, 'the id on the last')
  t.same([JSON.parse(first!.data).topic, JSON.parse(second!.data).topic].sort(), ['admin:disputes', 'escrow:1'])
})

t.test('I4: a resume from before the pruned history gets reset, then live', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service, url: base } = await startFeedService(t, tdb)
  await seed(tdb, service)
  const ada = await signToken('1')
  await tdb.query(`UPDATE escrows SET status = 'funded' WHERE id = 1`)
  const rows = await waitForHistory(tdb, 5)
  const oldest = rows[0]!.id
  await pruneBatch(service.database.db, new Date(Date.now() + 60_000), 10_000)
  t.equal((await historyRows(tdb)).length, 0, 'history pruned')
  const stream = await openSse(`${base}/v1/sse?topic=escrow:1`, { authorization: `Bearer ${ada}`, 'last-event-id': oldest })
  t.teardown(() => stream.close())
  const reset = await waitFor(() => stream.messages.find((m) => m.event === 'reset'), 10_000, 'reset')
  const resetFrame = JSON.parse(reset.data) as { head?: string }
  t.match(resetFrame.head, EVENT_ID)
  t.same(resetFrame, { op: 'reset', topic: 'escrow:1', reason: 'history_gone', head: resetFrame.head })
  await tdb.query(`UPDATE escrows SET status = 'completed' WHERE id = 1`)
  const after = await waitFor(() => events(stream.messages)[0], 15_000, 'live after reset')
  t.equal(after.data.to, 'completed')
})

t.test('the stream ends cleanly when the token expires', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service, url: base } = await startFeedService(t, tdb)
  await seed(tdb, service)
  const stream = await openSse(`${base}/v1/sse?topic=user:1`, { authorization: `Bearer ${await signToken('1', { expiresIn: 2 })}` })
  t.equal(stream.status, 200)
  await waitFor(() => stream.ended(), 10_000, 'end at expiry')
  t.ok(stream.raw().startsWith('retry: 1000'), 'the stream had started')
})

t.test('I7: revocation: a party that leaves gets unsubscribed and nothing later of that escrow', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service, url: base } = await startFeedService(t, tdb)
  await seed(tdb, service)
  const ada = await signToken('1')
  const both = await openSse(`${base}/v1/sse?topic=escrow:1&topic=user:1`, { authorization: `Bearer ${ada}` })
  const only = await openSse(`${base}/v1/sse?topic=escrow:1`, { authorization: `Bearer ${ada}` })
  t.teardown(() => { both.close(); only.close() })
  await tdb.query(`DELETE FROM escrow_parties WHERE escrow_id = 1 AND user_id = 1`)
  const revoked = await waitFor(() => both.messages.find((m) => m.event === 'unsubscribed'), 15_000, 'unsubscribed')
  t.same(JSON.parse(revoked.data), { op: 'unsubscribed', topic: 'escrow:1', reason: 'revoked' })
  await tdb.query(`UPDATE escrows SET status = 'funded' WHERE id = 1`)
  await tdb.query(`INSERT INTO notifications (user_id, kind, title) VALUES (1, 'k', 'still yours')`)
  await waitFor(() => events(both.messages).some((e) => e.type === 'notification:new'), 15_000, 'the other topic continues')
  t.notOk(events(both.messages).some((e) => e.type === 'escrow:status_changed'), 'no later event of the escrow')
  await waitFor(() => only.ended(), 10_000, 'a stream left with no topic ends')
  const again = await openSse(`${base}/v1/sse?topic=escrow:1`, { authorization: `Bearer ${ada}` })
  t.equal(again.status, 403, 'and cannot come back')
})
