import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { startTestService } from '../helpers/service.ts'
import { adminToken, authEnv } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'
import { connectWs } from '../helpers/ws-client.ts'

const LIMIT = 1_048_576

t.test('I9: a client that stops reading is closed with 4008; a fast one keeps receiving; the slow one resumes losslessly', async (t) => {
  const tdb = await createTestDatabase(t)
  const service = await startTestService(t, tdb, authEnv({ WALCAST_MAX_BACKPRESSURE: String(LIMIT) }))
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
  // clients share this process with the server, so the writer waits for the fast one
  // (a burst bigger than the limit in one hub batch would close any client).
  const commits = 75
  for (let i = 0; i < commits; i++) {
    await tdb.query(`INSERT INTO disputes (escrow_id, filed_by, reason) SELECT 1, 1, repeat('x', 8000) || g FROM generate_series(1, 40) AS g`)
    await waitFor(() => fast.events('admin:disputes').length >= (i + 1) * 40 || fast.closeInfo() !== undefined, 30_000, 'the fast client to keep up')
  }
  const total = commits * 40
  t.equal(fast.events('admin:disputes').length, total, 'the fast client got every event')
  t.equal(fast.closeInfo(), undefined, 'and is still connected')
  await waitFor(() => service.gateway.stats().slowConsumerCloses >= 1, 20_000, 'the slow consumer to be closed')
  const stats = service.gateway.stats()
  t.ok(stats.slowConsumerMaxBuffered > LIMIT, 'it was closed for passing the limit')
  t.ok(stats.slowConsumerMaxBuffered < LIMIT * 2 + 64 * 1024, `the server buffered at most ${stats.slowConsumerMaxBuffered} bytes for it: bounded`)

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
