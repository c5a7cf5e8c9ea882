import t from 'tap'
import { paymentStreamsCatalog } from '../../src/catalogs/payment-streams/index.ts'
import { startDemoWriter } from '../../src/demo/writer.ts'
import { createTestDatabase } from '../helpers/db.ts'
import { openSse, startFeedService } from '../helpers/feed.ts'
import { silentLogger } from '../helpers/log.ts'
import { historyRows, waitForHistory } from '../helpers/service.ts'
import { signToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'
import { connectWs } from '../helpers/ws-client.ts'

t.test('payment streams: every event, the sender and the recipient only, no memo or party in a payload', async (t) => {
  const tdb = await createTestDatabase(t, { prepared: false })
  const { service, url } = await startFeedService(t, tdb, { WALCAST_CATALOG: 'payment-streams' })
  t.equal(service.catalog.name, 'payment-streams')
  await tdb.query(`INSERT INTO users (id, display_name, email) VALUES (1, 'Sender', 'sender@example.com'), (2, 'Recipient', 'recipient@example.com'), (3, 'Outsider', 'out@example.com')`)
  await tdb.query(`INSERT INTO payment_streams (id, sender_id, recipient_id, currency, rate, deposit, memo) VALUES (10, 1, 2, 'EUR', 0.5, 100, 'private memo'), (20, 3, 1, 'USD', 1, 50, '')`)
  // Published, not only durable, before the sender subscribes without since: one published
  // after its head would reach it live and stand first in the events checked below.
  const created = await waitForHistory(tdb, 2)
  await waitFor(() => (service.hub.lastId() ?? '') >= created.at(-1)!.id, 15_000, 'the two streams\' events published')

  const sender = await connectWs(t, service.http.port, await signToken('1'))
  const outsider = await connectWs(t, service.http.port, await signToken('3'))
  t.equal((await sender.subscribeAndWait('stream:10')).op, 'subscribed', 'the sender reads its stream')
  t.equal((await sender.subscribeAndWait('stream:20')).op, 'subscribed', 'and, as its recipient, another one')
  const recipient = await openSse(`${url}/v1/sse?topic=stream:10`, { authorization: `Bearer ${await signToken('2')}` })
  t.teardown(() => recipient.close())
  t.equal(recipient.status, 200, 'the recipient reads the stream on SSE')
  const foreign = await outsider.subscribeAndWait('stream:10', { ref: 'r' })
  const guessed = await outsider.subscribeAndWait('stream:999', { ref: 'r' })
  t.same([foreign.op, foreign.code], ['error', 'forbidden'], 'a third user is refused')
  t.same({ ...guessed, topic: undefined }, { ...foreign, topic: undefined }, 'a guessed stream id gets the identical answer')
  const queries = service.authorizer.stats().membershipQueries
  await outsider.subscribeAndWait('stream:abc', { ref: 'r' })
  t.equal(service.authorizer.stats().membershipQueries, queries + 1, 'a malformed id takes the same path, through the same query')

  await tdb.query(`UPDATE payment_streams SET withdrawn = 12.5 WHERE id = 10`)
  await tdb.query(`UPDATE payment_streams SET memo = 'edited', deposit = 200 WHERE id = 10`)
  await tdb.query(`UPDATE payment_streams SET status = 'paused' WHERE id = 10`)
  await tdb.query(`UPDATE payment_streams SET status = 'active', rate = 0.75 WHERE id = 10`)
  await tdb.query(`UPDATE payment_streams SET status = 'settled', settled_at = '2026-05-06T07:08:09Z', withdrawn = 40 WHERE id = 10`)
  const frames = await waitFor(() => sender.events('stream:10').length >= 5 ? sender.events('stream:10') : undefined, 15_000, 'the sender\'s events')
  t.same(frames.map((f) => [f.type, f.data]), [
    ['stream:updated', { streamId: '10', currency: 'EUR', rate: '0.500000', withdrawn: '12.50', status: 'active' }],
    ['stream:updated', { streamId: '10', currency: 'EUR', rate: '0.500000', withdrawn: '12.50', status: 'paused' }],
    ['stream:updated', { streamId: '10', currency: 'EUR', rate: '0.750000', withdrawn: '12.50', status: 'active' }],
    ['stream:updated', { streamId: '10', currency: 'EUR', rate: '0.750000', withdrawn: '40.00', status: 'settled' }],
    ['settle:finished', { streamId: '10', currency: 'EUR', withdrawn: '40.00', settledAt: '2026-05-06T07:08:09.000Z' }],
  ], 'rate, withdrawn and status changes; the memo and deposit edit is no event')
  await waitFor(() => recipient.messages.filter((m) => m.event === 'settle:finished').length === 1, 15_000, 'the settlement on the recipient\'s SSE stream')
  t.same(recipient.messages.filter((m) => m.event === 'stream:updated' || m.event === 'settle:finished').map((m) => m.event),
    ['stream:updated', 'stream:updated', 'stream:updated', 'stream:updated', 'settle:finished'], 'the recipient gets the same events')
  t.same(outsider.events(), [], 'the outsider gets nothing')

  const text = JSON.stringify(await historyRows(tdb))
  for (const secret of ['private memo', 'edited', 'example.com', 'senderId', 'recipientId', 'deposit']) t.notOk(text.includes(secret), `no payload carries ${secret}`)
  t.match(text, /"stream:10"/)
})

t.test('the payment-streams demo: seeded once, and a stream walked to its settlement', async (t) => {
  const tdb = await createTestDatabase(t, { prepared: false })
  const { service } = await startFeedService(t, tdb, { WALCAST_CATALOG: 'payment-streams' })
  await paymentStreamsCatalog.demo!.seed(service.database.db, silentLogger())
  await paymentStreamsCatalog.demo!.seed(service.database.db, silentLogger())
  const users = await tdb.query<{ n: number }>('SELECT count(*)::int AS n FROM users')
  t.equal(users.rows[0]!.n, 3, 'seeded once')
  const writer = startDemoWriter(service.database.db, silentLogger(), 0, paymentStreamsCatalog.demo!)
  const steps: string[] = []
  for (let i = 0; i < 7; i++) steps.push(await writer.step())
  await writer.stop()
  t.match(steps[0], /^stream \d+ opened$/)
  t.match(steps[5], /: settled$/)
  t.match(steps[6], /^stream \d+ opened$/, 'then the next stream')
  const rows = await waitFor(async () => {
    const all = await historyRows(tdb)
    return all.some((r) => r.type === 'settle:finished') ? all : undefined
  }, 20_000, 'the settlement')
  const streamId = /^stream (\d+)/.exec(steps[0]!)![1]
  t.same(rows.filter((r) => r.payload.streamId === streamId).map((r) => r.type === 'settle:finished' ? 'settled' : String(r.payload.status)),
    ['active', 'active', 'paused', 'active', 'active', 'settled', 'settled'])
})
