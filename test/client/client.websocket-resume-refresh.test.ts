import t from 'tap'
import type { StatusInfo } from '../../src/client/types.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts'
import { waitPublished } from '../helpers/escrow-fixture.ts'
import { startFeedService } from '../helpers/feed.ts'
import { freePort } from '../helpers/own-server.ts'
import { connectClient, switchboard } from '../helpers/sdk.ts'
import { signToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'

// Published, not only durable, before a client subscribes live: a seed event published after
// the subscription's head would reach it and stand first among the events checked.
async function seed(tdb: TestDatabase, service: Parameters<typeof waitPublished>[0]): Promise<void> {
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'Ada')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency, status) VALUES (1, 'A', 1, 'EUR', 'draft')`)
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role, accepted_at) VALUES (1, 1, 'buyer', now())`)
  await waitPublished(service, tdb, 2)
}

const notify = (tdb: TestDatabase, title: string) => tdb.query(`INSERT INTO notifications (user_id, kind, title) VALUES (1, 'k', $1)`, [title])
const titles = (events: { type: string; data: unknown }[]) => events.map((e) => (e.data as { title: string }).title)

t.test('back to WebSocket from SSE and from polling, every event exactly once across the switch', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service, url } = await startFeedService(t, tdb)
  await seed(tdb, service)
  for (const blocked of [['/v1/ws'], ['/v1/ws', '/v1/sse']]) {
    const net = switchboard()
    for (const path of blocked) net.blocked.add(path)
    const { client, events } = connectClient(t, { url, token: await signToken('1'), fetch: net.fetch, WebSocket: net.WebSocket, upgradeProbeMs: 300 }, ['user:1'])
    const fallback = blocked.length === 1 ? 'sse' : 'polling'
    await waitFor(() => client.transport === fallback, 10_000, fallback)
    await notify(tdb, `${fallback}-1`)
    await waitFor(() => events.length === 1, 10_000, 'event on the fallback')
    net.blocked.clear()
    // Events keep coming while the client moves over.
    for (let i = 2; i <= 6; i++) await notify(tdb, `${fallback}-${i}`)
    await waitFor(() => client.transport === 'websocket', 10_000, 'websocket again')
    for (let i = 7; i <= 9; i++) await notify(tdb, `${fallback}-${i}`)
    await waitFor(() => events.length >= 9, 15_000, 'all events')
    t.same(titles(events), Array.from({ length: 9 }, (_, i) => `${fallback}-${i + 1}`), `${fallback} → websocket: in order, no gap, no duplicate`)
    client.close()
  }
})

t.test('a walcast restart: reconnecting, then exactly the missed events', async (t) => {
  const tdb = await createTestDatabase(t)
  const port = String(await freePort())
  const first = await startFeedService(t, tdb, { WALCAST_PORT: port })
  await seed(tdb, first.service)
  const statuses: StatusInfo[] = []
  const { client, events } = connectClient(t, { url: first.url, getToken: () => signToken('1') }, ['user:1', 'escrow:1'])
  client.onStatus((s) => statuses.push(s))
  await waitFor(() => client.transport === 'websocket', 10_000, 'websocket')
  await waitFor(() => first.service.gateway.stats().subscriptions === 2, 10_000, 'both topics live')
  await notify(tdb, 'before')
  await waitFor(() => events.length === 1, 10_000, 'first event')
  await first.service.stop()
  await waitFor(() => client.status === 'reconnecting', 10_000, 'reconnecting')
  await notify(tdb, 'while down 1')
  await tdb.query(`UPDATE escrows SET status = 'funded' WHERE id = 1`)
  await notify(tdb, 'while down 2')
  await startFeedService(t, tdb, { WALCAST_PORT: port })
  await waitFor(() => events.length >= 4, 30_000, 'missed events')
  await notify(tdb, 'after')
  await waitFor(() => events.length >= 5, 15_000, 'live again')
  // Each topic replays on its own: order holds per topic; across topics, by id.
  const byId = [...events].sort((a, b) => (a.id < b.id ? -1 : 1))
  t.same(byId.map((e) => (e.type === 'notification:new' ? e.data.title : e.type)), ['before', 'while down 1', 'escrow:status_changed', 'while down 2', 'after'], 'exactly the missed events, even of the topic that had been idle')
  const userEvents = events.filter((e) => e.topic === 'user:1').map((e) => e.id)
  t.same(userEvents, [...userEvents].sort(), 'in order per topic')
  t.same(events.map((e) => e.id), [...new Set(events.map((e) => e.id))], 'no duplicate')
  t.equal(client.transport, 'websocket')
  t.ok(statuses.some((s) => s.status === 'reconnecting'), 'the app saw reconnecting')
})

t.test('token refresh: before expiry with an auth frame, and after close 4001', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service, url } = await startFeedService(t, tdb)
  await seed(tdb, service)
  let issued = 0
  const getToken = () => {
    issued++
    return signToken('1', { expiresIn: 3 })
  }
  const early = connectClient(t, { url, getToken, refreshBeforeExpiryMs: 2000, transports: ['websocket'] }, ['user:1'])
  const statuses: string[] = []
  early.client.onStatus((s) => statuses.push(s.status))
  await waitFor(() => early.client.status === 'open', 10_000, 'open')
  await waitFor(() => service.gateway.stats().subscriptions === 1, 10_000, 'subscribed')
  await waitFor(() => issued >= 3, 10_000, 'two refreshes')
  await notify(tdb, 'still here')
  await waitFor(() => early.events.length === 1, 10_000, 'event after the first token expired')
  t.same(statuses, ['connecting', 'open'], 'refreshed in place: never dropped')
  early.client.close()

  issued = 0
  // The first token expires at once; the one fetched after 4001 lasts.
  const lateToken = () => signToken('1', { expiresIn: ++issued === 1 ? 3 : 600 })
  const late = connectClient(t, { url, getToken: lateToken, refreshBeforeExpiryMs: -60_000, transports: ['websocket'] }, ['user:1'])
  const lateStatuses: StatusInfo[] = []
  late.client.onStatus((s) => lateStatuses.push(s))
  await waitFor(() => late.client.status === 'open', 10_000, 'open')
  await waitFor(() => lateStatuses.filter((s) => s.status === 'open').length >= 2, 15_000, 'closed with 4001 and reopened')
  t.ok(issued >= 2, 'a new token was fetched for the reconnect')
  t.ok(lateStatuses.every((s) => s.failures === 0), 'a token expiry is not a failure')
  await waitFor(() => service.gateway.stats().subscriptions === 1 && late.client.status === 'open', 10_000, 'subscribed again')
  await notify(tdb, 'after 4001')
  await waitFor(() => late.events.length === 1, 10_000, 'event after reconnect')
})
