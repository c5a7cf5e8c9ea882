import pg from 'pg'
import t from 'tap'
import { sql } from 'kysely'
import { createDatabase } from '../../src/db/database.ts'
import { conflatedTopics } from '../../src/catalog/conflation.ts'
import { tradingCatalog } from '../../src/catalogs/trading/index.ts'
import { startLatestPerKeyBackfill } from '../../src/history/latest-per-key-backfill.ts'
import { createTestDatabase } from '../helpers/db.ts'
import { silentLogger } from '../helpers/log.ts'
import { sleep, waitFor } from '../helpers/wait.ts'

// A stop cancelled the backend pid the backfill had reported, through the pool, while the
// pid was still recorded. A cancel that waited for a pool connection arrived after the
// backfill had committed and its connection had gone back to the pool, and killed the
// statement the pool had lent that connection to next (a history append, a replay read).
// Now the backfill keeps its connection until the cancel is done (I17: a stopped build
// leaves nothing half-built; nothing else is harmed by it).

const conflated = conflatedTopics(tradingCatalog)!
/** The pg_locks rows of the test's own database. */
const HERE = `database = (SELECT oid FROM pg_database WHERE datname = current_database())`

t.test('I17: a stop\'s cancel reaches the backfill\'s own statement only, never one the pool lent its connection to afterwards', async (t) => {
  const tdb = await createTestDatabase(t)
  // Two connections: the backfill's, and one the test holds, so the stop's cancel waits its turn.
  const database = createDatabase({ url: tdb.url, poolSize: 2, applicationName: 'walcast-test' })
  t.teardown(() => database.close())
  const db = database.db

  // Another node's backfill (or a prune) holds the latest_per_key lock: this one waits.
  const other = new pg.Client({ connectionString: tdb.url })
  other.on('error', () => {})
  await other.connect()
  t.teardown(() => other.end().catch(() => {}))
  await other.query(`SELECT pg_advisory_lock(hashtext('walcast.latest_per_key'))`)

  const backfill = await startLatestPerKeyBackfill(db, conflated, { maxWaitMs: 60_000, log: silentLogger() })
  t.same(backfill.building(), ['orderbook:{asset}', 'price:{asset}'], 'the trading catalog\'s conflated patterns are to be built')
  await waitFor(async () => (await tdb.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND ${HERE}`)).rows.length === 1 ? true : undefined, 10_000, 'the backfill to wait for the lock')

  const held = await database.pool.connect()
  let heldReleased = false
  const releaseHeld = (): void => {
    if (heldReleased) return
    heldReleased = true
    held.release()
  }
  t.teardown(releaseHeld)
  // Queued first: the pool lends it the first connection that comes back.
  const innocent = sql<{ slept: string }>`SELECT pg_sleep(1.5)::text AS slept`.execute(db).then(
    () => 'finished',
    (err: unknown) => `failed: ${(err as Error).message}`,
  )
  // Queued second: the stop's cancel, for the backfill's backend.
  const stopping = backfill.stop()

  // The backfill gets the lock and can end now; its connection may go back to the pool.
  await other.query(`SELECT pg_advisory_unlock(hashtext('walcast.latest_per_key'))`)
  const sleeping = async (): Promise<boolean> => (await tdb.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE 'SELECT pg_sleep(1.5)%'`)).rows.length === 1
  // Before the fix the innocent statement ran on the backfill's connection within a few ms.
  const deadline = Date.now() + 1500
  while (Date.now() < deadline && !(await sleeping())) await sleep(25)
  // The cancel gets a connection now.
  releaseHeld()

  t.equal(await innocent, 'finished', 'the statement that ran on the backfill\'s former connection was not cancelled')
  await stopping
  t.pass('the stop returned')
  const specs = await tdb.query<{ pattern: string }>(`SELECT pattern FROM walcast.latest_per_key_specs ORDER BY pattern`)
  t.ok(specs.rows.length === 0 || specs.rows.length === 2, 'the state is either not built or built whole, never half')
})
