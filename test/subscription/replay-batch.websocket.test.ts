import t from 'tap'
import WebSocket from 'ws'
import type { StoredEvent } from '../../src/history/event.ts'
import { EVENT_BATCH_MAX_BYTES } from '../../src/protocol/event-batch.ts'
import type { WebSocketConstructor } from '../../src/client/types.ts'
import { createTestDatabase } from '../helpers/db.ts'
import { seedHistory } from '../helpers/history-seed.ts'
import { startFeedService } from '../helpers/feed.ts'
import { connectClient, switchboard } from '../helpers/sdk.ts'
import { startTestService, waitForHistory } from '../helpers/service.ts'
import { adminToken, authEnv, signToken } from '../helpers/tokens.ts'
import { sleep, waitFor } from '../helpers/wait.ts'
import { connectWs, type ServerFrame, type TestWsClient } from '../helpers/ws-client.ts'

const ZERO = '0000000000000000-00000000'

/** The event frames a client received, batch frames unpacked, in arrival order. */
function replayed(frames: readonly ServerFrame[]): ServerFrame[] {
  return frames.flatMap((f) => f.op === 'events' ? f.events as ServerFrame[] : f.op === 'event' ? [f] : [])
}

/** Every raw message the client receives, as text (to measure batch frames). */
function recordRaw(client: TestWsClient): string[] {
  const raw: string[] = []
  client.ws.on('message', (data) => raw.push(data.toString()))
  return raw
}

t.test('I3: a batched replay crosses batch boundaries gapless, each event once, in order; a client that did not opt in gets one frame per event', async (t) => {
  const tdb = await createTestDatabase(t)
  const seeded = await seedHistory(tdb, 'escrow:9', 3000, { padding: 120 })
  const service = await startTestService(t, tdb, authEnv())
  const token = await adminToken()

  const batched = await connectWs(t, service.http.port, token)
  const raw = recordRaw(batched)
  batched.send({ op: 'subscribe', topic: 'escrow:9', since: ZERO, batch: true, ref: 'b' })
  const subscribed = await batched.next((f) => f.op === 'subscribed', 30_000)
  const before = batched.frames.slice(0, batched.frames.indexOf(subscribed))
  t.ok(before.filter((f) => f.op === 'events').length >= 5, `${before.length} messages carried the replay: it crossed batch boundaries`)
  t.ok(before.every((f) => f.op === 'events' && f.topic === 'escrow:9'), 'every replay message is a batch frame of the topic')
  t.same(replayed(before).map((f) => f.id), seeded, 'every event once, in order')
  t.ok(replayed(before).every((f) => f.op === 'event' && f.topic === 'escrow:9' && typeof f.ts === 'string' && typeof f.lsn === 'string'), 'each member is a whole event frame')
  const sizes = raw.slice(0, before.length).map((text) => Buffer.byteLength(text))
  t.ok(sizes.every((bytes) => bytes <= EVENT_BATCH_MAX_BYTES), `no batch frame over ${EVENT_BATCH_MAX_BYTES} bytes (largest ${Math.max(...sizes)})`)
  t.same(subscribed, { op: 'subscribed', topic: 'escrow:9', ref: 'b', head: subscribed.head }, 'then subscribed, as without batches')

  const plain = await connectWs(t, service.http.port, token)
  const answer = await plain.subscribeAndWait('escrow:9', { since: ZERO }, 30_000)
  t.equal(answer.op, 'subscribed')
  const plainBefore = plain.frames.slice(0, plain.frames.indexOf(answer))
  t.equal(plainBefore.length, seeded.length, 'without batch: one message per event')
  t.same(plainBefore.map((f) => `${f.op} ${f.id}`), seeded.map((id) => `event ${id}`), 'the same events, in order')
})

t.test('I3: the SDK resumes across batch frames: every missed event once, in order, its cursor moved per event, then live', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service, url } = await startFeedService(t, tdb)
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'Ada')`)
  const net = switchboard()
  const raw: string[] = []
  const Recording = class extends (net.WebSocket as unknown as typeof WebSocket) {
    constructor(address: string) {
      super(address)
      this.on('message', (data: Buffer) => raw.push(data.toString()))
    }
  }
  const { client, events } = connectClient(t, { url, token: await signToken('1'), transports: ['websocket'], fetch: net.fetch, WebSocket: Recording as unknown as WebSocketConstructor }, ['user:1'])
  const cursors: Array<[string, string | undefined]> = []
  client.subscribe('user:1', (event) => cursors.push([event.id, client.lastId('user:1')]))
  await waitFor(() => service.gateway.stats().subscriptions === 1, 10_000, 'user:1 live')
  await tdb.query(`INSERT INTO notifications (user_id, kind, title) VALUES (1, 'k', 'before')`)
  await waitFor(() => events.length === 1, 10_000, 'the first event')

  net.cut('/v1/ws')
  await waitFor(() => client.status === 'reconnecting', 10_000, 'reconnecting')
  // 600 events of ~500 bytes in one transaction: several batch frames' worth.
  await tdb.query(`INSERT INTO notifications (user_id, kind, title) SELECT 1, 'k', 'missed ' || g || ' ' || repeat('x', 300) FROM generate_series(1, 600) AS g`)
  await waitForHistory(tdb, 601)
  const rawBefore = raw.length
  net.blocked.clear()
  await waitFor(() => events.length === 601, 30_000, 'the missed events')
  await tdb.query(`INSERT INTO notifications (user_id, kind, title) VALUES (1, 'k', 'after')`)
  await waitFor(() => events.length === 602, 10_000, 'live again')

  const titles = events.map((e) => (e.data as { title: string }).title.split(' ').slice(0, 2).join(' '))
  t.same(titles, ['before', ...Array.from({ length: 600 }, (_, i) => `missed ${i + 1}`), 'after'], 'every event once, in order, across the resume')
  const batches = raw.slice(rawBefore).filter((text) => text.startsWith('{"op":"events"'))
  t.ok(batches.length >= 3, `the replay came as ${batches.length} batch frames`)
  t.ok(cursors.every(([id, cursor]) => id === cursor), 'the resume point had moved to each event when its handler ran')
  t.equal(client.lastId('user:1'), events.at(-1)!.id)
})

t.test('I7: a revocation stops a batched replay in progress', async (t) => {
  const tdb = await createTestDatabase(t)
  await seedHistory(tdb, 'escrow:9', 30_000, { padding: 120 })
  const service = await startTestService(t, tdb, authEnv({ WALCAST_WS_REPLAY_PAGE: '500' }))
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'U')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (9, 'E', 1, 'EUR')`)
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role, accepted_at) VALUES (9, 1, 'buyer', now())`)
  const party = await connectWs(t, service.http.port, await signToken('1'))
  party.send({ op: 'subscribe', topic: 'escrow:9', since: ZERO, batch: true, ref: 'r' })
  await waitFor(() => replayed(party.frames).length >= 100, 30_000, 'the replay to start')
  party.pause()
  await sleep(500)
  await tdb.query(`DELETE FROM escrow_parties WHERE escrow_id = 9 AND user_id = 1`)
  await waitFor(() => service.gateway.stats().revocations >= 1, 20_000, 'the revocation')
  party.resume()
  const end = await party.next((f) => f.op === 'unsubscribed', 60_000)
  t.same(end, { op: 'unsubscribed', topic: 'escrow:9', reason: 'revoked' })
  party.send({ op: 'ping' })
  await party.next((f) => f.op === 'pong')
  t.notOk(party.frames.some((f) => f.op === 'subscribed'), 'the replay never went live')
  const ids = replayed(party.frames).map((f) => f.id!)
  t.ok(ids.length < 30_000, `it stopped (${ids.length} events sent)`)
  t.ok(ids.every((id, i) => i === 0 || id > ids[i - 1]!), 'what was sent was in order')
  t.equal(party.frames.at(-1)?.op, 'pong', 'nothing after the revocation but the pong')
})

t.test('I4: a batched replay overtaken by the pruner ends with reset, then goes live', async (t) => {
  const tdb = await createTestDatabase(t)
  await seedHistory(tdb, 'escrow:9', 30_000, { padding: 120, ageMs: 2 * 86_400_000 })
  const service = await startTestService(t, tdb, authEnv({ WALCAST_WS_REPLAY_PAGE: '500' }))
  const client = await connectWs(t, service.http.port, await adminToken())
  client.send({ op: 'subscribe', topic: 'escrow:9', since: ZERO, batch: true })
  await waitFor(() => replayed(client.frames).length >= 100, 30_000, 'the replay to start')
  client.pause()
  await sleep(500)
  const { pruneHistory } = await import('../../src/history/prune.ts')
  t.equal((await pruneHistory(service.database.db, { retentionMs: 86_400_000, pruneIntervalMs: 60_000, pruneBatch: 10_000 })).deleted, 30_000)
  client.resume()
  const reset = await client.next((f) => f.op === 'reset', 60_000)
  t.same(reset, { op: 'reset', topic: 'escrow:9', reason: 'history_gone', head: reset.head })
  const after = client.frames.indexOf(reset)
  t.same(client.frames.slice(after + 1, after + 2), [{ op: 'subscribed', topic: 'escrow:9', head: reset.head }], 'then live, at the same head')
  const ids = replayed(client.frames).map((f) => f.id!)
  t.ok(ids.length < 30_000, `${ids.length} events were sent before the holes`)
  t.ok(ids.every((id, i) => i === 0 || id > ids[i - 1]!), 'what was sent was in order')
})

t.test('I9: a batched replay waits for a client that stops reading, closes it with 4008 once it takes nothing, and a resume loses nothing', async (t) => {
  const tdb = await createTestDatabase(t)
  const seeded = await seedHistory(tdb, 'escrow:9', 30_000, { padding: 120 })
  // Stall limit: half the idle timeout, 4 s.
  const service = await startTestService(t, tdb, authEnv({ WALCAST_WS_REPLAY_PAGE: '500', WALCAST_WS_IDLE_TIMEOUT: '8' }))
  const reads: number[] = []
  let reading = 0
  const readSince = service.history.readSince.bind(service.history)
  service.history.readSince = async (topic, after, limit): Promise<StoredEvent[]> => {
    reading++
    try {
      const rows = await readSince(topic, after, limit)
      reads.push(rows.length)
      return rows
    } finally {
      reading--
    }
  }
  const token = await adminToken()
  const slow = await connectWs(t, service.http.port, token)
  slow.send({ op: 'subscribe', topic: 'escrow:9', since: ZERO, batch: true })
  await waitFor(() => replayed(slow.frames).length >= 2000, 30_000, 'the replay to start')
  slow.pause()
  // Quiet for 700 ms with no read queued or in Postgres: a page that takes longer than
  // that on a loaded host is still to be counted.
  await waitFor(async () => {
    const before = reads.length
    await sleep(700)
    return reads.length === before && reading === 0 && service.subscriptions.readStats().waiting === 0
  }, 20_000, 'the server to stop reading while the client does not')
  const paused = reads.length
  t.ok(paused < 30_000 / 500, `the replay did not run ahead of the client (${paused} pages)`)
  // A paused reader's kernel can still open its window a little later (its receive queue is
  // compacted), so the server may hand it one more page: that is the client taking bytes,
  // not the replay running ahead. What the rule forbids is a read with nothing taken.
  const taken = (): number | undefined => {
    const socket = service.gateway.sockets()[0]
    return socket === undefined ? undefined : socket.written - socket.buffered
  }
  const takenAtPause = taken()!
  let takenLast = takenAtPause
  await waitFor(() => {
    takenLast = taken() ?? takenLast
    return service.gateway.stats().slowConsumerCloses >= 1
  }, 30_000, 'the stalled client to be closed')
  t.ok(reads.length === paused || takenLast > takenAtPause,
    `no page was read while it took nothing (${reads.length - paused} after the pause, ${takenLast - takenAtPause} more bytes taken)`)
  t.ok(reads.length - paused <= 2, `at most two pages after the pause (${reads.length - paused})`)
  slow.resume()
  const closed = await slow.closed
  t.equal(closed.code, 4008, 'closed as a slow consumer')
  const got = replayed(slow.frames).map((f) => f.id!)
  t.ok(got.length < seeded.length, `it had ${got.length} of ${seeded.length} events`)
  t.same(got, seeded.slice(0, got.length), 'a gapless prefix, each once')

  const again = await connectWs(t, service.http.port, token)
  again.send({ op: 'subscribe', topic: 'escrow:9', since: got.at(-1)!, batch: true })
  await again.next((f) => f.op === 'subscribed', 60_000)
  t.same([...got, ...replayed(again.frames).map((f) => f.id!)], seeded, 'resuming from its last id: every event once, in order')
})

t.test('I3: clients resuming from the same position in the window get the same batch frames, byte for byte, each event once', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service } = await startFeedService(t, tdb)
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'Ada')`)
  await tdb.query(`INSERT INTO notifications (user_id, kind, title) VALUES (1, 'k', 'first')`)
  await waitForHistory(tdb, 1)
  await waitFor(() => service.hub.lastId() !== undefined, 10_000, 'the first event published')
  const since = service.hub.lastId()!
  await tdb.query(`INSERT INTO notifications (user_id, kind, title) SELECT 1, 'k', 'n' || g || ' ' || repeat('y', 300) FROM generate_series(1, 600) AS g`)
  await waitForHistory(tdb, 601)
  await waitFor(() => service.hub.window().events >= 601, 10_000, 'the events in the window')
  const token = await signToken('1')
  const clients = await Promise.all([1, 2, 3].map(() => connectWs(t, service.http.port, token)))
  const raws = clients.map(recordRaw)
  for (const client of clients) {
    client.send({ op: 'subscribe', topic: 'user:1', since, batch: true })
    await client.next((f) => f.op === 'subscribed', 30_000)
  }
  const replays = clients.map((client) => client.frames.slice(0, client.frames.findIndex((f) => f.op === 'subscribed')))
  t.ok(replays[0]!.filter((f) => f.op === 'events').length >= 3, 'the replay came in several batch frames')
  const ids = replayed(replays[0]!).map((f) => f.id!)
  t.equal(ids.length, 600, 'every missed event')
  t.same(ids, [...ids].sort(), 'in order')
  t.equal(new Set(ids).size, 600, 'each once')
  for (const i of [1, 2]) t.same(raws[i]!.slice(0, replays[i]!.length), raws[0]!.slice(0, replays[0]!.length), `client ${i + 1} got the same frames, byte for byte`)
})
