import t from 'tap'
import { pruneBatch } from '../../src/history/prune.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts'
import { waitPublished } from '../helpers/escrow-fixture.ts'
import { startFeedService } from '../helpers/feed.ts'
import { signToken } from '../helpers/tokens.ts'
import { connectClient, switchboard } from '../helpers/sdk.ts'
import { waitForHistory } from '../helpers/service.ts'
import { waitFor } from '../helpers/wait.ts'

// Published, not only durable, before a client subscribes live: a seed event published after
// the subscription's head would reach it and stand first among the events checked.
async function seed(tdb: TestDatabase, service: Parameters<typeof waitPublished>[0]): Promise<void> {
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'Ada'), (2, 'Sam')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency, status) VALUES (1, 'A', 1, 'EUR', 'draft'), (2, 'B', 1, 'EUR', 'draft')`)
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role, accepted_at) VALUES (1, 1, 'buyer', now()), (2, 2, 'buyer', now())`)
  await waitPublished(service, tdb, 4)
}

const setStatus = (tdb: TestDatabase, status: string, id = 1) => tdb.query(`UPDATE escrows SET status = $1 WHERE id = $2`, [status, id])

for (const only of ['sse', 'polling'] as const) {
  t.test(`${only} alone: live events in order, a cut network resumes with no gap and no duplicate`, async (t) => {
    const tdb = await createTestDatabase(t)
    const { service, url } = await startFeedService(t, tdb)
    await seed(tdb, service)
    const net = switchboard()
    const { client, events } = connectClient(t, { url, token: await signToken('1'), transports: [only], fetch: net.fetch }, ['escrow:1', 'user:1'])
    await waitFor(() => client.status === 'open', 10_000, 'open')
    t.equal(client.transport, only)
    await setStatus(tdb, 'funded')
    await waitFor(() => events.length === 1, 15_000, 'first event')
    net.cut('all')
    await waitFor(() => client.status === 'reconnecting', 10_000, 'connection lost')
    await setStatus(tdb, 'in_progress')
    await setStatus(tdb, 'completed')
    await tdb.query(`INSERT INTO notifications (user_id, kind, title) VALUES (1, 'k', 'while away')`)
    await setStatus(tdb, 'funded', 2)
    await waitForHistory(tdb, 9)
    net.blocked.clear()
    await waitFor(() => events.length >= 4, 20_000, 'missed events')
    t.same(events.map((e) => e.type === 'escrow:status_changed' ? e.data.to : e.type), ['funded', 'in_progress', 'completed', 'notification:new'], 'every event once, in order, none of escrow 2')
    t.same(events.map((e) => e.id), [...new Set(events.map((e) => e.id))], 'no duplicate')
    t.ok(client.lastId('escrow:1')! >= events[2]!.id, 'the resume point is at or past the last event delivered')
    t.ok(client.lastId('user:1')! >= events[3]!.id)
  })
}

t.test('fallback order: WebSocket unreachable → SSE; SSE blocked too → polling', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service, url } = await startFeedService(t, tdb)
  await seed(tdb, service)
  const net = switchboard()
  net.blocked.add('/v1/ws')
  const first = connectClient(t, { url, token: await signToken('1'), fetch: net.fetch, WebSocket: net.WebSocket, upgradeProbeMs: 200 }, ['escrow:1'])
  await waitFor(() => first.client.transport === 'sse', 10_000, 'sse')
  net.blocked.add('/v1/sse')
  const second = connectClient(t, { url, token: await signToken('1'), fetch: net.fetch, WebSocket: net.WebSocket, upgradeProbeMs: 200 }, ['escrow:1'])
  await waitFor(() => second.client.transport === 'polling', 10_000, 'polling')
  await setStatus(tdb, 'funded')
  await waitFor(() => first.events.length === 1 && second.events.length === 1, 15_000, 'both deliver')
  t.equal(first.events[0]!.id, second.events[0]!.id, 'the same event over SSE and polling')
})

t.test('reset: the client resumes from before the retained history and is told to refetch', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service, url } = await startFeedService(t, tdb)
  await seed(tdb, service)
  const net = switchboard()
  const { client, events, resets } = connectClient(t, { url, token: await signToken('1'), transports: ['polling'], fetch: net.fetch }, ['escrow:1'])
  await waitFor(() => client.status === 'open', 10_000, 'open')
  await setStatus(tdb, 'funded')
  await waitFor(() => events.length === 1, 15_000, 'an event')
  net.blocked.add('all')
  await setStatus(tdb, 'in_progress')
  await waitForHistory(tdb, 6)
  await pruneBatch(service.database.db, new Date(Date.now() + 60_000), 10_000)
  net.blocked.clear()
  await waitFor(() => resets.length === 1, 20_000, 'reset')
  t.same(resets, ['escrow:1'])
  await setStatus(tdb, 'completed')
  await waitFor(() => events.length === 2, 15_000, 'live after reset')
  t.equal(events[1]!.type === 'escrow:status_changed' && events[1]!.data.to, 'completed', 'the pruned event is not replayed; live continues')
  t.equal(client.status, 'open')
})
