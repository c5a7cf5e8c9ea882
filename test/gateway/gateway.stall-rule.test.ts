import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { collectPublished, startTestService } from '../helpers/service.ts'
import { adminToken, authEnv } from '../helpers/tokens.ts'
import { sleep, waitFor } from '../helpers/wait.ts'
import { connectWs, readSlowly } from '../helpers/ws-client.ts'

const LIMIT = 4 * 1_048_576
/** The stall window (half the idle timeout): long enough for a reader taking one chunk a second to prove steady. */
const WINDOW_S = 5

t.test('I9: a client that reads slowly but steadily through a catch-up is not closed as stalled: the stall rule counts the bytes it took, not the time alone', async (t) => {
  const tdb = await createTestDatabase(t)
  // Stall window: half the idle timeout, 5 s. The clients ping the server every second,
  // so uWS's own idle timeout plays no part here: only walcast's stall rule is tested.
  const service = await startTestService(t, tdb, authEnv({ WALCAST_MAX_BACKPRESSURE: String(LIMIT), WALCAST_WS_IDLE_TIMEOUT: String(2 * WINDOW_S) }))
  const port = service.http.port
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'U')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (1, 'E', 1, 'EUR')`)
  const token = await adminToken()
  const fast = await connectWs(t, port, token)
  const slow = await connectWs(t, port, token)
  const keepalive = setInterval(() => { fast.ws.ping(); slow.ws.ping() }, 1000)
  t.teardown(() => clearInterval(keepalive))
  t.equal((await fast.subscribeAndWait('admin:disputes')).op, 'subscribed')
  t.equal((await slow.subscribeAndWait('admin:disputes')).op, 'subscribed')
  const published = collectPublished(service)
  slow.pause()

  // ≈ 6 MB at once: the slow socket passes the pacing mark (2 MiB) and waits in a catch-up
  // until its buffer is back under 1 MiB, which at 64 KiB a second takes well over the
  // three windows read below.
  const total = 5000
  await tdb.query(`INSERT INTO disputes (escrow_id, filed_by, reason) SELECT 1, 1, repeat('z', 1200) || g FROM generate_series(1, ${total}) AS g`)
  await waitFor(() => fast.events('admin:disputes').length >= total || fast.closeInfo() !== undefined, 60_000, 'the fast client to get every event')
  await waitFor(() => service.gateway.stats().pacedSubscriptions >= 1, 20_000, 'the slow client to be paced')

  const stop = readSlowly(slow, 1000)
  // Three stall windows of slow reading.
  await sleep(3 * WINDOW_S * 1000)
  stop()
  t.equal(slow.closeInfo(), undefined, 'the slow but steady reader is still connected')
  t.equal(service.gateway.stats().slowConsumerCloses, 0, 'no 4008')
  const midway = slow.events('admin:disputes').length
  t.ok(midway > 0 && midway < total, `it was still catching up (${midway} of ${total} events read)`)

  slow.resume()
  await waitFor(() => slow.events('admin:disputes').length >= total || slow.closeInfo() !== undefined, 60_000, 'the slow client to catch up')
  const ids = published.filter((e) => e.topics.includes('admin:disputes')).map((e) => e.id)
  t.equal(ids.length, total)
  t.same(slow.events('admin:disputes').map((e) => e.id), ids, 'it got every event once, in order')
  t.same(fast.events('admin:disputes').map((e) => e.id), ids, 'and so did the fast one')
  t.equal(slow.closeInfo(), undefined, 'and was never closed')
  t.equal(service.gateway.stats().slowConsumerCloses, 0, 'no 4008')
})
