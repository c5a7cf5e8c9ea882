import t from 'tap'
import WebSocket from 'ws'
import type { StoredEvent } from '../../src/history/event.ts'
import { createTestDatabase } from '../helpers/db.ts'
import { seedHistory } from '../helpers/history-seed.ts'
import { startTestService } from '../helpers/service.ts'
import { adminToken, authEnv, signToken } from '../helpers/tokens.ts'
import { sleep, waitFor } from '../helpers/wait.ts'
import { connectWs, wsUrl } from '../helpers/ws-client.ts'

const EVENT_ID = /^[0-9a-f]{16}-[0-7][0-9a-f]{7}$/

const PAGE = 500
const EVENTS = 60_000

t.test('I3, I9: a resume from far back pages the history at the pace of the socket', async (t) => {
  const tdb = await createTestDatabase(t)
  const seeded = await seedHistory(tdb, 'escrow:9', EVENTS, { padding: 120 })
  const service = await startTestService(t, tdb, authEnv({ WALCAST_WS_REPLAY_PAGE: String(PAGE) }))
  // Watch the reads the gateway makes (the real store underneath).
  const reads: { limit: number; rows: number }[] = []
  let reading = 0
  const readSince = service.history.readSince.bind(service.history)
  service.history.readSince = async (topic, after, limit): Promise<StoredEvent[]> => {
    reading++
    try {
      const rows = await readSince(topic, after, limit)
      reads.push({ limit, rows: rows.length })
      return rows
    } finally {
      reading--
    }
  }

  // A lean client: 60,000 frames are counted, not kept.
  const ws = new WebSocket(wsUrl(service.http.port, await adminToken()))
  const ids: string[] = []
  let subscribed = -1
  ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as { op: string; id?: string }
    if (frame.op === 'event') ids.push(frame.id!)
    else if (frame.op === 'subscribed') subscribed = ids.length
  })
  await new Promise((resolve) => ws.once('open', resolve))
  t.teardown(() => ws.terminate())
  ws.send(JSON.stringify({ op: 'subscribe', topic: 'escrow:9', since: '0000000000000000-00000000' }))
  await waitFor(() => ids.length >= 2000, 30_000, 'the replay to start')
  const socket = (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket
  socket.pause()
  // Once the socket buffers are full the server must stop reading pages.
  let stable = -1
  // Quiet for 700 ms with no read queued or in Postgres: a page that takes longer than
  // that on a loaded host is still to be counted.
  await waitFor(async () => {
    const before = reads.length
    await sleep(700)
    stable = reads.length
    return reads.length === before && reading === 0 && service.subscriptions.readStats().waiting === 0
  }, 20_000, 'the server to stop reading while the client does not')
  // A paused reader's kernel can still open its window a little later (the TCP persist probe
  // finds room its receive queue made), and when that drains uWS's buffer below the drain
  // level the replay rightly reads one more page: the client took bytes. What I9 forbids is
  // a read with nothing taken.
  const taken = (): number => {
    const socket = service.gateway.sockets()[0]!
    return socket.written - socket.buffered
  }
  const paused = reads.length
  const takenAtPause = taken()
  await sleep(1000)
  const takenLater = taken() - takenAtPause
  t.ok(reads.length === paused || takenLater > 0,
    `no page is read while the client is not reading (stopped after ${stable} of ${EVENTS / PAGE}+ pages; ${reads.length - paused} after, ${takenLater} more bytes taken)`)
  // Every frame is more than its 120 bytes of padding: rows read past what the client took
  // can be at most the one page the replay holds for the drain.
  const rowsAfter = reads.slice(paused).reduce((sum, r) => sum + r.rows, 0)
  t.ok(rowsAfter <= takenLater / 120 + 4 * PAGE, `no more read after the pause than the client took room for (${rowsAfter} rows for ${takenLater} bytes)`)
  t.ok(paused < EVENTS / PAGE, 'the replay did not run ahead of the client')
  socket.resume()

  await waitFor(() => subscribed >= 0, 120_000, 'the replay to finish')
  t.equal(ids.length, EVENTS, 'every event')
  t.equal(subscribed, EVENTS, 'then subscribed')
  t.ok(ids.every((id, i) => id === seeded[i]), 'in order, each exactly once')
  // Pages grow to four while the client takes each whole, and start over when it does not.
  t.ok(reads.every((r) => r.limit <= 4 * PAGE), 'no read asks for more than four pages')
  t.ok(reads.some((r) => r.limit > PAGE), 'pages grew while the client kept up')
  t.ok(reads.length >= EVENTS / (4 * PAGE), `${reads.length} pages`)
  // What a full buffer left of a page is kept for the drain, not read again.
  const rows = reads.reduce((sum, r) => sum + r.rows, 0)
  t.ok(rows <= EVENTS + 4 * PAGE, `each event read from the history once (${rows} rows for ${EVENTS} events)`)
  const rss = process.memoryUsage().rss
  t.ok(rss < 1024 * 1024 * 1024, `process memory stayed bounded (${Math.round(rss / 1e6)} MB)`)
})

t.test('I4: a replay overtaken by the pruner ends with reset', async (t) => {
  const tdb = await createTestDatabase(t)
  await seedHistory(tdb, 'escrow:9', 30_000, { padding: 120, ageMs: 2 * 86_400_000 })
  const service = await startTestService(t, tdb, authEnv({ WALCAST_WS_REPLAY_PAGE: String(PAGE) }))
  const client = await connectWs(t, service.http.port, await adminToken())
  client.subscribe('escrow:9', { since: '0000000000000000-00000000' })
  await waitFor(() => client.events().length >= 100, 30_000, 'the replay to start')
  client.pause()
  await sleep(500)
  const { pruneHistory } = await import('../../src/history/prune.ts')
  t.equal((await pruneHistory(service.database.db, { retentionMs: 86_400_000, pruneIntervalMs: 60_000, pruneBatch: 10_000 })).deleted, 30_000)
  client.resume()
  const reset = await client.next((f) => f.op === 'reset', 60_000)
  t.same(reset, { op: 'reset', topic: 'escrow:9', reason: 'history_gone', head: reset.head })
  t.match(reset.head, EVENT_ID, 'the reset carries the head the subscription is live from')
  const after = client.frames.indexOf(reset)
  t.same(client.frames.slice(after + 1, after + 2), [{ op: 'subscribed', topic: 'escrow:9', head: reset.head }], 'then live, at the same head')
  const ids = client.events().map((e) => e.id!)
  t.ok(ids.length < 30_000, `${ids.length} events were sent before the holes`)
  t.ok(ids.every((id, i) => i === 0 || id > ids[i - 1]!), 'what was sent was in order')
  t.equal(service.gateway.stats().resets, 1)
})

t.test('I7: a revocation stops a replay in progress', async (t) => {
  const tdb = await createTestDatabase(t)
  await seedHistory(tdb, 'escrow:9', 30_000, { padding: 120 })
  const service = await startTestService(t, tdb, authEnv({ WALCAST_WS_REPLAY_PAGE: String(PAGE) }))
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'U')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (9, 'E', 1, 'EUR')`)
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role, accepted_at) VALUES (9, 1, 'buyer', now())`)
  const party = await connectWs(t, service.http.port, await signToken('1'))
  party.subscribe('escrow:9', { since: '0000000000000000-00000000', ref: 'r' })
  await waitFor(() => party.events().length >= 100, 30_000, 'the replay to start')
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
  t.ok(party.events().length < 30_000, `it stopped (${party.events().length} events sent)`)
  t.equal(party.frames.at(-1)?.op, 'pong', 'nothing after the revocation but the pong')
})
