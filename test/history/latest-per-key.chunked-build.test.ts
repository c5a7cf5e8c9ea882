import pg from 'pg'
import t from 'tap'
import type { Test } from 'tap'
import { createDatabase } from '../../src/db/database.ts'
import { conflatedTopics } from '../../src/catalog/conflation.ts'
import { tradingCatalog } from '../../src/catalogs/trading/index.ts'
import type { StoredEvent } from '../../src/history/event.ts'
import { createHistoryStore } from '../../src/history/store.ts'
import { latestPerKeyToBuild, syncLatestPerKey } from '../../src/history/latest-per-key.ts'
import { startLatestPerKeyBackfill } from '../../src/history/latest-per-key-backfill.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts'
import { silentLogger } from '../helpers/log.ts'
import { sleep, waitFor } from '../helpers/wait.ts'
import { eventMaker } from '../helpers/history-seed.ts'

// A new conflated pattern's state was built in one statement over the topic's whole
// history: on hundreds of millions of rows it held a snapshot and row locks for hours, and
// a stop threw all of it away. It is built in chunks now, its spec row (the marker that its
// state may be read, I17) written with the last one.

const conflated = conflatedTopics(tradingCatalog)!
const BOOK = 'orderbook:BTC-USD'
const CHUNK = 40
/** The pg_locks rows of the test's own database. */
const HERE = `database = (SELECT oid FROM pg_database WHERE datname = current_database())`

const events = eventMaker

const level = (asset: string, side: string, price: string, qty: number) =>
  ({ type: 'book:level', topics: [`orderbook:${asset}`], data: { asset, side, price, qty: String(qty) } })

/**
 * A history stored before the catalog conflated anything (no state rows): 300 book events
 * of BTC-USD over ten levels, the level ask 999 only in its last fifty; 120 of ETH-USD;
 * 60 prices; 50 trades.
 */
async function oldHistory(tdb: TestDatabase): Promise<void> {
  const { made, add } = events(0x1000n)
  for (let i = 0; i < 300; i++) {
    const e = i >= 250 && i % 5 === 0 ? level('BTC-USD', 'ask', '999', i) : level('BTC-USD', i % 2 === 0 ? 'bid' : 'ask', String(100 + (i % 10)), i)
    add(e.type, e.topics, e.data)
    if (i < 120) { const x = level('ETH-USD', 'bid', String(10 + (i % 7)), i); add(x.type, x.topics, x.data) }
    if (i < 60) add('price:updated', [i % 2 === 0 ? 'price:BTC-USD' : 'price:ETH-USD'], { asset: i % 2 === 0 ? 'BTC-USD' : 'ETH-USD', price: String(i) })
    if (i < 50) add('trade:executed', ['trades:BTC-USD'], { tradeId: String(i), asset: 'BTC-USD', price: '1', qty: '1' })
  }
  const plain = createHistoryStore(tdb.database.db)
  for (let i = 0; i < made.length; i += 200) await plain.append(made.slice(i, i + 200))
}

async function rows(tdb: TestDatabase): Promise<string[]> {
  const result = await tdb.query<{ row: string }>(`
    SELECT topic || ' ' || key::text || ' ' || lpad(to_hex((commit_lsn - '0/0')::bigint), 16, '0') || '-' || lpad(to_hex(seq), 8, '0') AS row
    FROM walcast.latest_per_key ORDER BY topic, key`)
  return result.rows.map((r) => r.row)
}

const specs = async (tdb: TestDatabase): Promise<string[]> =>
  (await tdb.query<{ pattern: string }>('SELECT pattern FROM walcast.latest_per_key_specs ORDER BY pattern')).rows.map((r) => r.pattern)

/**
 * Holds, uncommitted, a state row of the key ask 999 (first in the BTC-USD book's 7th
 * chunk): the build's upsert of that chunk waits for it, after six chunks committed.
 */
async function blockSeventhChunk(t: Test, tdb: TestDatabase): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: tdb.url })
  client.on('error', () => {})
  await client.connect()
  t.teardown(() => client.end().catch(() => {}))
  await client.query('BEGIN')
  await client.query(`INSERT INTO walcast.latest_per_key (topic, key, commit_lsn, seq) VALUES ($1, '["ask", "999"]', '0/1', 0)`, [BOOK])
  return async () => { await client.query('ROLLBACK') }
}

const blocked = async (tdb: TestDatabase): Promise<boolean> =>
  (await tdb.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'transactionid'`)).rows.length > 0

/** The one-statement build (a changed key spec is still rebuilt in one transaction) of both patterns, as a reference. */
async function oneStatementState(tdb: TestDatabase): Promise<string[]> {
  await tdb.query(`UPDATE walcast.latest_per_key_specs SET key = 'another'`)
  const rebuilt = await syncLatestPerKey(tdb.database.db, conflated)
  if (rebuilt.built.length !== 2) throw new Error(`expected both patterns rebuilt, got ${JSON.stringify(rebuilt)}`)
  return rows(tdb)
}

t.test('I17: a new pattern built in chunks holds exactly the one-statement build\'s state, events appended during the build included; two builders never run at once', async (t) => {
  const tdb = await createTestDatabase(t)
  await oldHistory(tdb)
  const release = await blockSeventhChunk(t, tdb)

  const backfill = await startLatestPerKeyBackfill(tdb.database.db, conflated, { maxWaitMs: 60_000, chunkRows: CHUNK, log: silentLogger() })
  t.teardown(() => backfill.stop())
  await waitFor(() => blocked(tdb), 15_000, 'the build to reach the 7th chunk')
  const partial = await tdb.query<{ n: number }>(`SELECT count(*)::int AS n FROM walcast.latest_per_key WHERE topic = $1`, [BOOK])
  t.equal(partial.rows[0]!.n, 10, 'the six chunks done are committed: the book\'s ten first levels')
  t.same(await specs(tdb), [], 'no pattern is marked built: its state is not read yet')

  // A second node's sync: it waits for the first one's lock for as long as that one builds.
  const second = createDatabase({ url: tdb.url, poolSize: 2, applicationName: 'walcast-test' })
  t.teardown(() => second.close())
  let secondDone = false
  const secondSync = syncLatestPerKey(second.db, conflated).finally(() => { secondDone = true })
  await waitFor(async () => (await tdb.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND ${HERE}`)).rows.length === 1 ? true : undefined, 10_000, 'the second sync to wait for the lock')

  // Appended while the build runs: by a node whose catalog conflates the pattern (its
  // append keeps the keys) and by one whose catalog does not (an old node: it keeps none).
  const during = events(0x9000n)
  const movedBid = during.add('book:level', [BOOK], level('BTC-USD', 'bid', '100', 1000).data)
  const newLevel = during.add('book:level', [BOOK], level('BTC-USD', 'bid', '555', 1).data)
  const newTopic = during.add('book:level', ['orderbook:SOL-USD'], level('SOL-USD', 'bid', '1', 1).data)
  await createHistoryStore(tdb.database.db, conflated).append(during.made.splice(0))
  const movedAsk = during.add('book:level', [BOOK], level('BTC-USD', 'ask', '101', 2000).data)
  const movedEth = during.add('book:level', ['orderbook:ETH-USD'], level('ETH-USD', 'bid', '10', 2000).data)
  await createHistoryStore(tdb.database.db).append(during.made.splice(0))

  await sleep(300)
  t.notOk(secondDone, 'the second sync still waits: it never builds beside the first')
  await release()
  t.same((await backfill.synced).built, ['orderbook:{asset}', 'price:{asset}'], 'the first sync built both patterns')
  t.same(await secondSync, { built: [], dropped: [] }, 'the second found them built and did nothing')
  t.same(await specs(tdb), ['orderbook:{asset}', 'price:{asset}'], 'both marked built')

  const chunked = await rows(tdb)
  t.same([
    `${BOOK} ["bid", "100"] ${movedBid.id}`, `${BOOK} ["bid", "555"] ${newLevel.id}`, `orderbook:SOL-USD ["bid", "1"] ${newTopic.id}`,
    `${BOOK} ["ask", "101"] ${movedAsk.id}`, `orderbook:ETH-USD ["bid", "10"] ${movedEth.id}`,
  ].filter((row) => chunked.includes(row)).length, 5, 'the state holds what was appended during the build: by a conflating node (a level moved, a new level, a new topic) and by an old node (levels moved)')
  t.same(chunked, await oneStatementState(tdb), 'exactly the state the one-statement build makes of the same history')
})

t.test('I17: a stop mid-build leaves the pattern unreadable and keeps the chunks done; the next start completes it and drops rows of another key spec', async (t) => {
  const tdb = await createTestDatabase(t)
  await oldHistory(tdb)
  // A row of another key spec (the book keyed by side alone), naming a book event.
  await tdb.query(`INSERT INTO walcast.latest_per_key (topic, key, commit_lsn, seq) SELECT topic, '["ask"]', commit_lsn, seq FROM walcast.event_topics WHERE topic = $1 ORDER BY commit_lsn LIMIT 1`, [BOOK])
  const release = await blockSeventhChunk(t, tdb)

  const first = await startLatestPerKeyBackfill(tdb.database.db, conflated, { maxWaitMs: 60_000, chunkRows: CHUNK, log: silentLogger() })
  await waitFor(() => blocked(tdb), 15_000, 'the build to reach the 7th chunk')
  const started = Date.now()
  await first.stop()
  t.ok(Date.now() - started < 5000, 'the stop cancels the chunk in progress and returns')
  t.same(await specs(tdb), [], 'stopped mid-build: no pattern is marked built')
  t.same(await latestPerKeyToBuild(tdb.database.db, conflated), ['orderbook:{asset}', 'price:{asset}'], 'the next start knows both are still to build')
  const kept = await tdb.query<{ n: number }>(`SELECT count(*)::int AS n FROM walcast.latest_per_key WHERE topic = $1`, [BOOK])
  t.equal(kept.rows[0]!.n, 11, 'the six chunks done are kept (ten levels), and the row of the other key spec')
  t.equal((await tdb.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND ${HERE}`)).rows.length, 0, 'the stopped build holds no lock')
  await release()

  const next = await startLatestPerKeyBackfill(tdb.database.db, conflated, { maxWaitMs: 60_000, chunkRows: CHUNK, log: silentLogger() })
  t.teardown(() => next.stop())
  t.same(next.building(), ['orderbook:{asset}', 'price:{asset}'], 'the next start builds both again')
  t.same((await next.synced).built, ['orderbook:{asset}', 'price:{asset}'], 'and completes them')
  const state = await rows(tdb)
  t.notOk(state.some((row) => row.startsWith(`${BOOK} ["ask"] `)), 'the row of the other key spec is gone')
  t.same(state, await oneStatementState(tdb), 'exactly the state the one-statement build makes of the same history')
})

t.test('I17: the last pass reads every topic up to the head: what an old node appends after the chunks went past is in the state', async (t) => {
  const tdb = await createTestDatabase(t)
  await oldHistory(tdb)
  // A row of another key spec, locked by a transaction of the test: the last pass, which
  // deletes it first, waits there, after every chunk of the book was read.
  await tdb.query(`INSERT INTO walcast.latest_per_key (topic, key, commit_lsn, seq) SELECT topic, '["ask"]', commit_lsn, seq FROM walcast.event_topics WHERE topic = $1 ORDER BY commit_lsn LIMIT 1`, [BOOK])
  const client = new pg.Client({ connectionString: tdb.url })
  client.on('error', () => {})
  await client.connect()
  t.teardown(() => client.end().catch(() => {}))
  await client.query('BEGIN')
  await client.query(`SELECT 1 FROM walcast.latest_per_key WHERE topic = $1 AND key = '["ask"]' FOR UPDATE`, [BOOK])

  const backfill = await startLatestPerKeyBackfill(tdb.database.db, conflated, { maxWaitMs: 60_000, chunkRows: CHUNK, log: silentLogger() })
  t.teardown(() => backfill.stop())
  await waitFor(() => blocked(tdb), 15_000, 'the last pass to wait for the locked row')
  const read = await tdb.query<{ n: number }>(`SELECT count(*)::int AS n FROM walcast.latest_per_key WHERE topic = $1`, [BOOK])
  t.equal(read.rows[0]!.n, 12, 'every chunk of the book was read (eleven levels), the row of the other key spec still there')

  // An old node (its catalog conflates nothing) appends now: its append keeps no key.
  const late = events(0x9000n)
  const movedAsk = late.add('book:level', [BOOK], level('BTC-USD', 'ask', '102', 5000).data)
  const newLevel = late.add('book:level', [BOOK], level('BTC-USD', 'bid', '77', 1).data)
  await createHistoryStore(tdb.database.db).append(late.made)
  await client.query('ROLLBACK')

  t.same((await backfill.synced).built, ['orderbook:{asset}', 'price:{asset}'], 'both built')
  const state = await rows(tdb)
  t.same([`${BOOK} ["ask", "102"] ${movedAsk.id}`, `${BOOK} ["bid", "77"] ${newLevel.id}`].filter((row) => state.includes(row)).length, 2, 'the old node\'s events, appended after the chunks, are in the state')
  t.same(state, await oneStatementState(tdb), 'exactly the state the one-statement build makes of the same history')
})
