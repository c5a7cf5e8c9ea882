import t from 'tap'
import { CLOSE } from '../../src/protocol/close-codes.ts'
import { createTestDatabase } from '../helpers/db.ts'
import { openSse, startFeedService } from '../helpers/feed.ts'
import { lockTables } from '../helpers/history-seed.ts'
import { adminToken, signToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'
import { connectWs } from '../helpers/ws-client.ts'

// The authorizer's membership lookups do not share the read gate (a replay storm must not
// starve them), but unbounded they queued in pg's pool, whose wait (10 s) ended a storm of
// them in 1011 (WebSocket) or 500 (SSE). They take turns of their own (src/auth/access-checks.ts).

const TOPIC = 'escrow:100'
const STORM = 20

t.test('I18: a storm of access checks that waits past WALCAST_DB_ACCESS_CHECK_WAIT is told to come back later (WebSocket 1013, SSE and polling 503 `overloaded`), never 1011 or 500; once the database answers, every client subscribes', async (t) => {
  const tdb = await createTestDatabase(t)
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'Buyer')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (100, 'Shared', 1, 'EUR')`)
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role, accepted_at) VALUES (100, 1, 'buyer', now())`)
  // One access check at once; the pool (2) could have run two and queued the rest for 10 s.
  const { service, url } = await startFeedService(t, tdb, { WALCAST_DB_POOL: '2', WALCAST_DB_ACCESS_CHECK_WAIT: '1s', WALCAST_WS_MAX_CONNECTIONS_PER_USER: '200' })
  const token = await signToken('1')
  // Every membership lookup now waits in Postgres, as when a storm outruns the database.
  const release = await lockTables(tdb, ['public.escrow_parties'])
  let released = false
  t.teardown(async () => { if (!released) await release() })

  const clients = await Promise.all(Array.from({ length: STORM }, () => connectWs(t, service.http.port, token)))
  for (const client of clients) client.subscribe(TOPIC, { ref: 'storm' })
  // An admin reads escrows by role, with no lookup: it waits behind no one.
  const admin = await connectWs(t, service.http.port, await adminToken())
  t.equal((await admin.subscribeAndWait(TOPIC, { ref: 'admin' }, 5_000)).op, 'subscribed', 'a check that needs no lookup is answered during the storm')

  await waitFor(() => clients.filter((c) => c.closeInfo() !== undefined).length >= STORM - 1, 8_000, 'the queued access checks to be shed')
  const sse = await openSse(`${url}/v1/sse?topic=${TOPIC}`, { authorization: `Bearer ${token}` })
  t.equal(sse.status, 503, 'an SSE stream whose access check was shed is refused with 503')
  t.match(sse.body, { error: { code: 'overloaded' } }, '`overloaded`: the SDK backs off as after 1013')
  const poll = await fetch(`${url}/v1/events?topic=${TOPIC}`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(poll.status, 503, 'so is a poll')
  t.match(await poll.json(), { error: { code: 'overloaded' } })
  t.ok(service.authorizer.stats().checks.shed >= STORM + 1, 'the shed checks are counted')

  await release()
  released = true
  await waitFor(() => clients.every((c) => c.closeInfo() !== undefined || c.frames.some((f) => f.op === 'subscribed')), 10_000, 'the check in Postgres to finish')
  const codes = clients.map((c) => c.closeInfo()?.code)
  t.equal(codes.filter((code) => code === undefined).length, 1, 'the check already in the database completes: that client is subscribed')
  t.same([...new Set(codes.filter((code) => code !== undefined))], [CLOSE.tryAgainLater], 'every other one is told to come back later (1013), none 1011')
  t.match(clients.find((c) => c.closeInfo() !== undefined)!.closeInfo()!.reason, /busy/)

  // Coming back, as the SDK does after its overload backoff: every one is let in.
  const again = await Promise.all(clients.filter((c) => c.closeInfo() !== undefined).map(() => connectWs(t, service.http.port, token)))
  const answers = await Promise.all(again.map((c) => c.subscribeAndWait(TOPIC, { ref: 'again' }, 10_000)))
  t.same(answers.map((a) => a.op), again.map(() => 'subscribed'), 'every shed client subscribes when it comes back')
  const stream = await openSse(`${url}/v1/sse?topic=${TOPIC}`, { authorization: `Bearer ${token}` })
  t.teardown(() => stream.close())
  t.equal(stream.status, 200, 'and so does the SSE stream')
})
