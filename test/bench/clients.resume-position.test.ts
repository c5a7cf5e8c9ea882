import t from 'tap'
import { ClientPool } from '../../bench/lib/clients.ts'
import { createTestDatabase } from '../helpers/db.ts'
import { collectPublished, startTestService } from '../helpers/service.ts'
import { authEnv, TEST_JWT_SECRET } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'
import { startWriter } from '../helpers/writer.ts'

// #15 findings §6b (b): after a mass drop, some bench clients "had not caught up" by the
// bound while the server idled: lost events, none missing, no duplicate, no reset. A
// client dropped before its first event of a topic redialled without `since` (it had no
// last id), started at the head and never saw what was committed meanwhile. The resume
// position is the `subscribed` head (docs/protocol.md: every event up to it has arrived).
t.test('I3: a bench client dropped before its first event resumes from its subscribed head and loses nothing committed while it was away', async (t) => {
  const tdb = await createTestDatabase(t)
  const service = await startTestService(t, tdb, authEnv())
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'Buyer')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency, status) VALUES (1, 'A', 1, 'EUR', 'funded'), (2, 'B', 1, 'EUR', 'funded')`)
  const published = collectPublished(service)
  // Their creation is published before the clients subscribe: they go away holding no event.
  await waitFor(() => published.length >= 2, 10_000, 'the escrows\' creation published')
  const clients = Array.from({ length: 3 }, () => ({ user: 1, topics: ['escrow:1'], role: 'admin' }))
  const pool = new ClientPool({ kind: 'walcast', url: `ws://127.0.0.1:${service.http.port}/v1/ws`, secret: TEST_JWT_SECRET, clients })
  t.teardown(() => pool.close())
  t.equal((await pool.open(10_000)).connected, 3)
  t.equal(pool.counts().received, 0, 'no event yet')
  pool.awayAll()
  await waitFor(() => pool.counts().open === 0, 10_000, 'every client away')
  const before = published.filter((e) => e.topics.includes('escrow:1')).length
  await startWriter(tdb, [1, 2], { maxCommits: 20, maxMs: 10_000 }).done
  await waitFor(() => published.filter((e) => e.topics.includes('escrow:1')).length >= before + 10, 10_000, 'the events written while they were away')
  const missed = published.filter((e) => e.topics.includes('escrow:1')).length - before

  pool.returnAll()
  await waitFor(() => pool.counts().open === 3, 10_000, 'every client subscribed again')
  await waitFor(() => pool.counts().received >= 3 * missed, 5_000, 'the missed events').catch(() => {})
  t.equal(pool.counts().received, 3 * missed, `each of the 3 clients got the ${missed} events committed while it was away`)
  t.equal(pool.tally({}, {}).duplicates, 0, 'none twice')
})
