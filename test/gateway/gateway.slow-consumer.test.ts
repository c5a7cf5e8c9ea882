import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { collectPublished, startTestService } from '../helpers/service.ts'
import { adminToken, authEnv } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'
import { connectWs } from '../helpers/ws-client.ts'

const LIMIT = 1_048_576

t.test('I9: a client that stops reading is paced, then closed with 4008 once it drains nothing; a fast one keeps receiving; the slow one resumes losslessly', async (t) => {
  const tdb = await createTestDatabase(t)
  // The stall limit is half the WebSocket's idle timeout (12 s here): uWS drops a client
  // that answers no ping at the idle timeout, counted from its subscribe; walcast's 4008
  // comes first, counted from when its live delivery was paused.
  const service = await startTestService(t, tdb, authEnv({ WALCAST_MAX_BACKPRESSURE: String(LIMIT), WALCAST_WS_IDLE_TIMEOUT: '24' }))
  const port = service.http.port
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'U')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (1, 'E', 1, 'EUR')`)
  const token = await adminToken()
  const fast = await connectWs(t, port, token)
  const slow = await connectWs(t, port, token)
  t.equal((await fast.subscribeAndWait('admin:disputes')).op, 'subscribed')
  t.equal((await slow.subscribeAndWait('admin:disputes')).op, 'subscribed')
  slow.pause()

  // 3000 events of ~8 kB (24 MB): far more than the kernel's socket buffers and our
  // limit, in transactions small enough for a reading client to keep up with. The
  // clients share this process with the server, so the writer waits for the fast one.
  const commits = 75
  for (let i = 0; i < commits; i++) {
    await tdb.query(`INSERT INTO disputes (escrow_id, filed_by, reason) SELECT 1, 1, repeat('x', 8000) || g FROM generate_series(1, 40) AS g`)
    await waitFor(() => fast.events('admin:disputes').length >= (i + 1) * 40 || fast.closeInfo() !== undefined, 30_000, 'the fast client to keep up')
  }
  const total = commits * 40
  t.equal(fast.events('admin:disputes').length, total, 'the fast client got every event')
  t.equal(fast.closeInfo(), undefined, 'and is still connected')
  t.ok(service.gateway.stats().pacedSubscriptions >= 1, 'the stalled client was taken off live delivery first')
  await waitFor(() => service.gateway.stats().slowConsumerCloses >= 1, 45_000, 'the slow consumer to be closed')
  const stats = service.gateway.stats()
  t.equal(stats.slowConsumerCloses, 1, 'only the stalled client was closed')
  t.ok(stats.slowConsumerMaxBuffered <= LIMIT, `the server buffered at most ${stats.slowConsumerMaxBuffered} bytes for it: never past the limit`)

  slow.resume()
  const closed = await slow.closed
  t.equal(closed.code, 4008, 'the client sees 4008 once it reads again')
  t.equal(closed.reason, 'slow consumer')
  const seen = slow.events('admin:disputes')
  t.ok(seen.length < total, `it had received ${seen.length} of ${total} events`)
  const ids = fast.events('admin:disputes').map((e) => e.id)
  t.same(seen.map((e) => e.id), ids.slice(0, seen.length), 'what it got was a gapless prefix')

  const again = await connectWs(t, port, token)
  const answer = await again.subscribeAndWait('admin:disputes', { since: seen.at(-1)!.id! }, 60_000)
  t.equal(answer.op, 'subscribed')
  t.same([...seen, ...again.events('admin:disputes')].map((e) => e.id), ids, 'resuming from its last id loses nothing')
})

t.test('I9: a hub batch far bigger than the limit does not close reading clients: they are paced and get every event once, in order', async (t) => {
  const tdb = await createTestDatabase(t)
  // The smallest limit: one 6,000-event transaction (≈ 6.5 MB, published as one batch of
  // WALCAST_BATCH_EVENTS and the rest) lands on each subscriber a hundred times over it.
  const limit = 65_536
  const service = await startTestService(t, tdb, authEnv({ WALCAST_MAX_BACKPRESSURE: String(limit), WALCAST_BATCH_EVENTS: '5000' }))
  const port = service.http.port
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'U')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (1, 'E', 1, 'EUR')`)
  const token = await adminToken()
  const clients = await Promise.all([0, 1, 2].map(() => connectWs(t, port, token)))
  for (const client of clients) t.equal((await client.subscribeAndWait('admin:disputes')).op, 'subscribed')
  const published = collectPublished(service)
  const batches: number[] = []
  service.hub.subscribe((events) => batches.push(events.length))

  const total = 6000
  await tdb.query(`INSERT INTO disputes (escrow_id, filed_by, reason) SELECT 1, 1, repeat('y', 1000) || g FROM generate_series(1, ${total}) AS g`)
  for (const client of clients) {
    await waitFor(() => client.events('admin:disputes').length >= total || client.closeInfo() !== undefined, 60_000, 'every event to arrive')
  }
  t.ok(Math.max(...batches) >= 5000, `the hub published a batch of ${Math.max(...batches)} events`)
  const ids = published.filter((e) => e.topics.includes('admin:disputes')).map((e) => e.id)
  t.equal(ids.length, total)
  for (const [i, client] of clients.entries()) {
    t.equal(client.closeInfo(), undefined, `client ${i} was not closed`)
    t.same(client.events('admin:disputes').map((e) => e.id), ids, `client ${i} got every event once, in order`)
  }
  const stats = service.gateway.stats()
  t.equal(stats.slowConsumerCloses, 0, 'no 4008')
  t.ok(stats.pacedSubscriptions >= 3, `live delivery was paced (${stats.pacedSubscriptions} times)`)
  t.equal(stats.subscriptions, 3, 'all three are live again')
})
