import net from 'node:net'
import t from 'tap'
import WS from 'ws'
import { createClient } from '../../src/client/index.ts'
import type { StatusInfo, WebSocketConstructor } from '../../src/client/types.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts'
import { startFeedService } from '../helpers/feed.ts'
import { connectClient } from '../helpers/sdk.ts'
import { waitForHistory } from '../helpers/service.ts'
import { signToken } from '../helpers/tokens.ts'
import { sleep, waitFor } from '../helpers/wait.ts'

async function seed(tdb: TestDatabase): Promise<void> {
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'Ada')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency, status) VALUES (1, 'A', 1, 'EUR', 'draft')`)
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role, accepted_at) VALUES (1, 1, 'buyer', now())`)
  await waitForHistory(tdb, 2)
}
const toggleEscrow1 = (tdb: TestDatabase) => tdb.query(`UPDATE escrows SET status = CASE WHEN status = 'funded' THEN 'draft' ELSE 'funded' END WHERE id = 1`)
const notify = (tdb: TestDatabase, title: string) => tdb.query(`INSERT INTO notifications (user_id, kind, title) VALUES (1, 'k', $1)`, [title])

t.test('subscribe and unsubscribe on an open connection, on every transport; a throwing listener harms no one', async (t) => {
  const tdb = await createTestDatabase(t)
  const { url } = await startFeedService(t, tdb)
  await seed(tdb)
  for (const transport of ['websocket', 'sse', 'polling'] as const) {
    const { client } = connectClient(t, { url, token: await signToken('1'), transports: [transport] }, [])
    await waitFor(() => client.status === 'open', 10_000, `${transport} open with no topic`)
    const got: string[] = []
    const offThrowing = client.subscribe('user:1', () => { throw new Error('application bug') })
    const off = client.subscribe('user:1', (e) => got.push(e.type === 'notification:new' ? e.data.title : e.type))
    const offEscrow = client.subscribe('escrow:1', (e) => got.push(e.type))
    // The subscription is in place once a probe comes through (no timing assumptions).
    await waitFor(async () => {
      await notify(tdb, `${transport}-probe`)
      return waitFor(() => got.length > 0, 1000, 'probe').catch(() => false)
    }, 15_000, `${transport}: subscribed`)
    offThrowing()
    offEscrow()
    t.equal(client.lastId('escrow:1'), undefined, 'a topic without listeners is forgotten')
    const before = got.length
    await tdb.query(`UPDATE escrows SET status = CASE WHEN status = 'funded' THEN 'draft' ELSE 'funded' END WHERE id = 1`)
    await notify(tdb, `${transport}-last`)
    await waitFor(() => got.includes(`${transport}-last`), 10_000, `${transport}: last marker`)
    t.same(got.slice(before).filter((x) => !x.endsWith('-probe')), [`${transport}-last`], `${transport}: the unsubscribed topic delivers nothing more`)
    off()
    t.equal(client.lastId('user:1'), undefined)
    t.equal(client.status, 'open', 'the connection stays open without topics')
    client.close()
    client.retry()
    t.equal(client.status, 'open', 'retry() after close() does nothing')
  }
})

t.test('getToken failing, a WebSocket that cannot be built, a server that never answers: failures, not exceptions', async (t) => {
  let calls = 0
  const statuses: StatusInfo[] = []
  const failing = createClient({ url: 'http://127.0.0.1:9', getToken: () => { calls++; throw new Error('auth server down') }, backoff: { initialMs: 50 } })
  t.teardown(() => failing.close())
  failing.onStatus((s) => statuses.push(s))
  await waitFor(() => statuses.some((s) => s.status === 'reconnecting' && s.failures === 2), 10_000, 'two failures')
  t.ok(calls >= 2, 'getToken asked again on each attempt')

  class Throwing { constructor() { throw new SyntaxError('bad url') } }
  const held = new Set<net.Socket>()
  const silent = net.createServer((socket) => { held.add(socket) })
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()))
  t.teardown(() => new Promise<void>((resolve) => {
    for (const socket of held) socket.destroy()
    silent.close(() => resolve())
  }))
  const port = (silent.address() as net.AddressInfo).port
  for (const WebSocket of [Throwing as unknown as WebSocketConstructor, WS as unknown as WebSocketConstructor]) {
    const seen: StatusInfo[] = []
    const client = createClient({ url: `http://127.0.0.1:${port}`, token: 't', WebSocket, openTimeoutMs: 200, backoff: { initialMs: 20_000 } })
    client.onStatus((s) => seen.push(s))
    client.subscribe('user:1', () => {})
    await waitFor(() => client.status === 'reconnecting', 10_000, 'every transport timed out')
    t.equal(seen.at(-1)!.failures, 1)
    client.retry()
    t.equal(client.status, 'connecting', 'retry() while waiting tries again at once')
    client.close()
  }
  const unreachable = createClient({ url: 'http://127.0.0.1:9', token: 't', transports: ['websocket'] })
  t.teardown(() => unreachable.close())
  await waitFor(() => unreachable.status === 'reconnecting', 10_000, 'no WebSocket on Node 20 and none injected')
})

t.test('revocation and rate limits reach onError; the status observable can be left', async (t) => {
  const tdb = await createTestDatabase(t)
  const { url } = await startFeedService(t, tdb)
  await seed(tdb)
  const { client } = connectClient(t, { url, token: await signToken('1'), transports: ['websocket'] }, ['escrow:1'])
  const errors: { topic?: string; code: string }[] = []
  const offError = client.onError((e) => errors.push(e))
  let statusCalls = 0
  const offStatus = client.onStatus(() => statusCalls++)
  offStatus()
  const delivered: string[] = []
  client.subscribe('escrow:1', (e) => delivered.push(e.id))
  await waitFor(async () => {
    await tdb.query(`UPDATE escrows SET status = CASE WHEN status = 'funded' THEN 'draft' ELSE 'funded' END WHERE id = 1`)
    return waitFor(() => delivered.length > 0, 1000, 'probe').catch(() => false)
  }, 15_000, 'subscribed')
  await tdb.query(`DELETE FROM escrow_parties WHERE escrow_id = 1 AND user_id = 1`)
  await waitFor(() => errors.length === 1, 10_000, 'revoked')
  t.match(errors[0], { topic: 'escrow:1', code: 'revoked' })
  t.equal(statusCalls, 1, 'a removed status listener is not called again')
  offError()
  const offReset = client.onReset(() => {})
  offReset()
})

t.test('refused tokens: SSE and polling report the status and back off; an SSE stream ended at expiry reopens with a fresh token', async (t) => {
  const tdb = await createTestDatabase(t)
  const { url } = await startFeedService(t, tdb)
  await seed(tdb)
  const expired = await signToken('1', { expiresIn: -60 })
  for (const transport of ['sse', 'polling'] as const) {
    const seen: StatusInfo[] = []
    const client = createClient({ url, token: expired, transports: [transport], backoff: { initialMs: 20_000 } })
    client.onStatus((s) => seen.push(s))
    client.subscribe('user:1', () => {})
    await waitFor(() => client.status === 'reconnecting', 10_000, `${transport}: 401 is a failed attempt`)
    t.equal(seen.at(-1)!.failures, 1)
    client.close()
  }

  let issued = 0
  const { client, events } = connectClient(t, { url, getToken: () => { issued++; return signToken('1', { expiresIn: 2 }) }, refreshBeforeExpiryMs: -60_000, transports: ['sse'] }, ['user:1'])
  const statuses: StatusInfo[] = []
  client.onStatus((s) => statuses.push(s))
  await waitFor(() => client.status === 'open', 10_000, 'open')
  await waitFor(() => issued >= 2 && client.status === 'open', 15_000, 'the server ended the stream at expiry; reopened with a new token')
  t.ok(statuses.some((s) => s.status === 'reconnecting'), 'reconnecting in between')
  await notify(tdb, 'after expiry')
  await waitFor(() => events.length === 1, 10_000, 'delivery continues')
})

t.test('a forbidden topic is reported through onError and dropped, on the WebSocket as when polling; the others keep flowing', async (t) => {
  const tdb = await createTestDatabase(t)
  const { url } = await startFeedService(t, tdb)
  await seed(tdb)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency, status) VALUES (2, 'B', 1, 'EUR', 'draft')`)
  // SSE is left out: a stream carries all its topics, and one forbidden topic refuses it whole (403).
  for (const transport of ['websocket', 'polling'] as const) {
    const { client, events } = connectClient(t, { url, token: await signToken('1'), transports: [transport] }, ['escrow:1'])
    await waitFor(async () => {
      await toggleEscrow1(tdb)
      return waitFor(() => events.length > 0, 1000, 'probe').catch(() => false)
    }, 15_000, `${transport}: escrow 1 flows`)
    const errors: { topic?: string; code: string }[] = []
    client.onError((e) => errors.push(e))
    client.subscribe('escrow:2', () => t.fail('never delivered'))
    await waitFor(() => errors.length === 1, 10_000, `${transport}: forbidden`)
    t.match(errors[0], { topic: 'escrow:2', code: 'forbidden' }, `${transport}: the refusal names the topic`)
    t.equal(client.lastId('escrow:2'), undefined)
    const before = events.length
    await tdb.query(`UPDATE escrows SET status = CASE WHEN status = 'funded' THEN 'draft' ELSE 'funded' END WHERE id = 2`)
    await toggleEscrow1(tdb)
    await waitFor(() => events.length === before + 1, 15_000, `${transport}: escrow 1 still flows`)
    client.close()
  }
})
