import net from 'node:net'
import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { openSse, startFeedService } from '../helpers/feed.ts'
import { capturingLogger } from '../helpers/log.ts'
import { seedHistory } from '../helpers/history-seed.ts'
import { signToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'
import { startWriter } from '../helpers/writer.ts'

async function setup(tdb: Awaited<ReturnType<typeof createTestDatabase>>): Promise<void> {
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'Ada')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency, status) VALUES (1, 'A', 1, 'EUR', 'funded'), (2, 'B', 1, 'EUR', 'funded')`)
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role, accepted_at) VALUES (1, 1, 'buyer', now())`)
}

async function topicIds(tdb: Awaited<ReturnType<typeof createTestDatabase>>, topic: string): Promise<string[]> {
  const rows = await tdb.query<{ id: string }>(`
    SELECT lpad(to_hex((commit_lsn - '0/0')::bigint), 16, '0') || '-' || lpad(to_hex(seq), 8, '0') AS id
    FROM walcast.event_topics WHERE topic = $1 ORDER BY commit_lsn, seq`, [topic])
  return rows.rows.map((r) => r.id)
}

t.test('I3: SSE replay from far back in pages, then live, while a writer commits: every id once, in order', async (t) => {
  const tdb = await createTestDatabase(t)
  const seeded = await seedHistory(tdb, 'escrow:1', 3000)
  const { url } = await startFeedService(t, tdb)
  await setup(tdb)
  const writer = startWriter(tdb, [1, 2], { maxCommits: 1500, maxMs: 10_000 })
  await waitFor(() => writer.commits() >= 100, 20_000, 'the writer to get going')
  const since = seeded[10]!
  const stream = await openSse(`${url}/v1/sse?topic=escrow:1`, { authorization: `Bearer ${await signToken('1')}`, 'last-event-id': since })
  t.teardown(() => stream.close())
  const commits = await writer.done
  const all = await waitFor(async () => {
    const ids = await topicIds(tdb, 'escrow:1')
    // 3000 seeded, escrow 1 created and joined, and every other commit of the writer.
    return ids.length >= 3000 + 2 + Math.ceil(commits / 2) ? ids : undefined
  }, 30_000, 'every commit in the history')
  const expected = all.slice(all.indexOf(since) + 1)
  const got = await waitFor(() => {
    const ids = stream.messages.filter((m) => m.id !== undefined).map((m) => m.id!)
    return ids.length >= expected.length ? ids : undefined
  }, 30_000, 'the stream to catch up')
  t.equal(got.length, expected.length, `${expected.length} events`)
  t.same(got, expected, 'exactly the ids after Last-Event-ID, in order, replay then live')
})

t.test('I9: a consumer that stops reading is cut off, never silently skipped', async (t) => {
  const tdb = await createTestDatabase(t)
  await seedHistory(tdb, 'user:1', 2000, { padding: 5000 })
  const { log, lines } = capturingLogger('info')
  // A replay waits for the client; one that takes nothing for the idle limit is gone (I9).
  const { service } = await startFeedService(t, tdb, { WALCAST_MAX_BACKPRESSURE: '65536', WALCAST_WS_IDLE_TIMEOUT: '8' }, log)
  const token = await signToken('1')
  const socket = net.connect(service.http.port, '127.0.0.1')
  t.teardown(() => { socket.destroy() })
  socket.pause()
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  socket.write(`GET /v1/sse?topic=user:1&lastEventId=0000000000000000-00000000 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`)
  // The replay fills the kernel's buffers and then walcast's in a few ms: the stream may
  // open and end between two polls, so the log says it ended, and why.
  await waitFor(() => lines().some((line) => line.includes('sse stream ended: slow consumer')), 20_000, 'the slow stream to be ended')
  t.equal(service.feed.sseStreams(), 0, 'ended once more than WALCAST_MAX_BACKPRESSURE bytes waited')
})

t.test('streams per user are limited (429), a closed stream frees its place; shutdown ends streams', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service, url } = await startFeedService(t, tdb, { WALCAST_WS_MAX_CONNECTIONS_PER_USER: '1' })
  const auth = { authorization: `Bearer ${await signToken('1')}` }
  const first = await openSse(`${url}/v1/sse?topic=user:1`, auth)
  t.equal(first.status, 200)
  const second = await openSse(`${url}/v1/sse?topic=user:1`, auth)
  t.equal(second.status, 429)
  t.match(second.body, { error: { code: 'rate_limited' } })
  first.close()
  await waitFor(() => service.feed.sseStreams() === 0, 10_000, 'the closed stream is gone')
  const third = await openSse(`${url}/v1/sse?topic=user:1`, auth)
  t.equal(third.status, 200, 'its place is free again')
  await service.stop()
  await waitFor(() => third.ended(), 10_000, 'shutdown ends the stream')
  t.equal(service.feed.sseStreams(), 0)
})

t.test('I9: a reader that pauses paces the replay instead of being cut off: everything arrives, in order', async (t) => {
  const tdb = await createTestDatabase(t)
  const seeded = await seedHistory(tdb, 'user:1', 2000, { padding: 5000 })
  const { url } = await startFeedService(t, tdb, { WALCAST_MAX_BACKPRESSURE: String(64 * 1024 * 1024) })
  const controller = new AbortController()
  t.teardown(() => controller.abort())
  const response = await fetch(`${url}/v1/sse?topic=user:1&lastEventId=0000000000000000-00000000`, {
    headers: { authorization: `Bearer ${await signToken('1')}` }, signal: controller.signal,
  })
  // Not reading for a while fills the socket: the server has to wait for it to drain.
  await new Promise((resolve) => setTimeout(resolve, 1500))
  const ids: string[] = []
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
  let text = ''
  while (ids.length < seeded.length) {
    const { done, value } = await reader.read()
    if (done) break
    text += value
    let cut: number
    while ((cut = text.indexOf('\n\n')) !== -1) {
      const id = /^id: (.+)$/m.exec(text.slice(0, cut))?.[1]
      if (id !== undefined) ids.push(id)
      text = text.slice(cut + 2)
    }
  }
  t.equal(ids.length, seeded.length, 'every event of 10 MB of replay')
  t.same(ids, seeded, 'in order')
})
