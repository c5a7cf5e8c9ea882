import t from 'tap'
import { sql } from 'kysely'
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts'
import { createHistoryStore } from '../../src/history/store.ts'
import type { StoredEvent } from '../../src/history/event.ts'
import { ZERO_ID, parseEventId } from '../../src/event-id.ts'
import { readLatestPerKey, syncLatestPerKey } from '../../src/history/latest-per-key.ts'
import { conflatedTopics } from '../../src/catalog/conflation.ts'
import { tradingCatalog } from '../../src/catalogs/trading/index.ts'
import type { Catalog } from '../../src/catalog/catalog.ts'
import { eventMaker } from '../helpers/history-seed.ts'

const BOOK = 'orderbook:BTC-USD'
const conflated = conflatedTopics(tradingCatalog)!

const events = eventMaker

const level = (side: string, price: string, qty: number) => ({ asset: 'BTC-USD', side, price, qty: String(qty) })

async function rows(tdb: TestDatabase): Promise<string[]> {
  const result = await tdb.query<{ row: string }>(`
    SELECT topic || ' ' || key::text || ' ' || lpad(to_hex((commit_lsn - '0/0')::bigint), 16, '0') || '-' || lpad(to_hex(seq), 8, '0') AS row
    FROM walcast.latest_per_key ORDER BY topic, key`)
  return result.rows.map((r) => r.row)
}

// What a state read touches, counted by Postgres itself for the reading transaction.
async function touched(tdb: TestDatabase, topic: string, limit: number) {
  // The counters of the connection's earlier, unflushed transactions are in the view
  // too: the read's own is the difference.
  return tdb.database.db.transaction().execute(async (trx) => {
    const count = async () => {
      const stats = await sql<{ relname: string; scans: string; fetched: string }>`
        SELECT relname, (seq_scan + coalesce(idx_scan, 0))::text AS scans, (seq_tup_read + coalesce(idx_tup_fetch, 0))::text AS fetched
        FROM pg_stat_xact_user_tables WHERE schemaname = 'walcast'`.execute(trx)
      return (name: string, column: 'scans' | 'fetched') => Number(stats.rows.find((r) => r.relname === name)?.[column] ?? 0)
    }
    const before = await count()
    const page = await readLatestPerKey(trx, topic, ZERO_ID, limit)
    const after = await count()
    const diff = (name: string, column: 'scans' | 'fetched') => after(name, column) - before(name, column)
    return { page, eventTopicsScans: diff('event_topics', 'scans'), eventsFetched: diff('events', 'fetched'), keysFetched: diff('latest_per_key', 'fetched') }
  })
}

t.test('I17: a conflated topic\'s state is the latest event of each key, read at the cost of its keys, not of its history', async (t) => {
  const tdb = await createTestDatabase(t)
  const history = createHistoryStore(tdb.database.db, conflated)
  const { made, add } = events(0x1000n)
  const latest = new Map<string, StoredEvent>()
  const burst = (n: number): void => {
    for (let i = 0; i < n; i++) {
      for (const [side, price] of [['bid', '100'], ['ask', '101'], ['ask', '102']] as const) latest.set(`${side}${price}`, add('book:level', [BOOK], level(side, price, i)))
      add('trade:executed', ['trades:BTC-USD'], { tradeId: String(i), asset: 'BTC-USD', price: '100', qty: '1' })
    }
  }
  burst(20)
  await history.append(made.splice(0))
  const short = await touched(tdb, BOOK, 100)
  burst(400)
  for (let i = 0; i < made.length; i += 250) await history.append(made.slice(i, i + 250))
  const long = await touched(tdb, BOOK, 100)

  const expected = [...latest.values()].map((e) => e.id).sort()
  t.same(long.page.map((e) => e.id), expected, 'one event per key, the latest, in id order')
  t.same(long.page.map((e) => e.data.qty), ['399', '399', '399'], 'each key ends on its last value')
  t.equal(long.eventTopicsScans, 0, 'the topic\'s history (event_topics) is not read at all')
  t.same([short.keysFetched, short.eventsFetched], [3, 3], 'after 60 book events: 3 keys read, 3 events fetched')
  t.same([long.keysFetched, long.eventsFetched], [3, 3], 'after 1,260 book events: the same 3 and 3')

  const first = await readLatestPerKey(tdb.database.db, BOOK, ZERO_ID, 2)
  const rest = await readLatestPerKey(tdb.database.db, BOOK, parseEventId(first[1]!.id)!, 2)
  t.same([...first, ...rest].map((e) => e.id), expected, 'paged with after = the last id of a page, the same state')
  t.same(await readLatestPerKey(tdb.database.db, BOOK, parseEventId(expected[2]!)!, 10), [], 'nothing after the newest key')
  t.same(await readLatestPerKey(tdb.database.db, 'trades:BTC-USD', ZERO_ID, 10), [], 'a topic that is not conflated has no state rows')
  const counts = await tdb.query<{ n: number }>(`SELECT count(*)::int AS n FROM walcast.latest_per_key WHERE topic NOT LIKE 'orderbook:%'`)
  t.equal(counts.rows[0]!.n, 0, 'trades pay nothing: no state row')
})

t.test('I17: appending again, or a batch naming a key twice, never moves a key back', async (t) => {
  const tdb = await createTestDatabase(t)
  const history = createHistoryStore(tdb.database.db, conflated)
  const { made, add } = events(0x2000n)
  add('book:level', [BOOK], level('bid', '100', 1))
  const bid2 = add('book:level', [BOOK], level('bid', '100', 2))
  const old = made.splice(0)
  add('book:level', [BOOK], level('bid', '100', 3))
  add('price:updated', ['price:BTC-USD'], { asset: 'BTC-USD', price: '1' })
  const bid4 = add('book:level', [BOOK], level('bid', '100', 4))
  const price = add('price:updated', ['price:BTC-USD'], { asset: 'BTC-USD', price: '2' })
  const ask = add('book:level', [BOOK], level('ask', '100', 5))
  const newer = made.splice(0)

  await history.append(old)
  t.same(await rows(tdb), [`${BOOK} ["bid", "100"] ${bid2.id}`], 'of two events of a key in one batch, the newer is the latest')
  await history.append([...newer].reverse())
  t.same(await rows(tdb), [
    `${BOOK} ["ask", "100"] ${ask.id}`,
    `${BOOK} ["bid", "100"] ${bid4.id}`,
    `price:BTC-USD ["BTC-USD"] ${price.id}`,
  ], 'the newest of each key, whatever order the batch lists them in')
  await history.append(old)
  await history.append(newer.slice(0, 2))
  t.same((await rows(tdb))[1], `${BOOK} ["bid", "100"] ${bid4.id}`, 'a batch re-appended after a reconnect leaves the newer latest as it is')
  const book = await readLatestPerKey(tdb.database.db, BOOK, ZERO_ID, 10)
  t.same(book.map((e) => e.id), [bid4.id, ask.id], 'the state read says the same')
})

t.test('I17: the first start after the migration builds the state from the history already stored; a changed key spec rebuilds it', async (t) => {
  const tdb = await createTestDatabase(t)
  // A history stored before walcast kept the table: appended with no conflated topics.
  const plain = createHistoryStore(tdb.database.db)
  const { made, add } = events(0x3000n)
  add('book:level', [BOOK], level('bid', '100', 1))
  const bid = add('book:level', [BOOK], level('bid', '100', 2))
  add('book:level', [BOOK], level('ask', '101', 1))
  const ask = add('book:level', [BOOK], level('ask', '101', 0))
  const ask99 = add('book:level', [BOOK], level('ask', '99', 7))
  const eth = add('book:level', ['orderbook:ETH-USD'], { ...level('bid', '100', 9), asset: 'ETH-USD' })
  add('price:updated', ['price:BTC-USD'], { asset: 'BTC-USD', price: '1' })
  const price = add('price:updated', ['price:BTC-USD'], { asset: 'BTC-USD', price: '2' })
  add('trade:executed', ['trades:BTC-USD'], { tradeId: '1', asset: 'BTC-USD', price: '100', qty: '1' })
  const noPrice = add('book:level', ['orderbook:SOL-USD'], { asset: 'SOL-USD', side: 'bid', qty: '1' })
  await plain.append(made)
  t.same(await rows(tdb), [], 'nothing kept yet')

  t.same(await syncLatestPerKey(tdb.database.db, conflated), { built: ['orderbook:{asset}', 'price:{asset}'], dropped: [] }, 'both patterns built')
  t.same(await rows(tdb), [
    `${BOOK} ["ask", "101"] ${ask.id}`,
    `${BOOK} ["ask", "99"] ${ask99.id}`,
    `${BOOK} ["bid", "100"] ${bid.id}`,
    `orderbook:ETH-USD ["bid", "100"] ${eth.id}`,
    `orderbook:SOL-USD ["bid", null] ${noPrice.id}`,
    `price:BTC-USD ["BTC-USD"] ${price.id}`,
  ], 'the latest of each key of each topic, from the history (a missing field is null)')
  t.same(await syncLatestPerKey(tdb.database.db, conflated), { built: [], dropped: [] }, 'the next start has nothing to do')

  // The live append goes on from there.
  const history = createHistoryStore(tdb.database.db, conflated)
  const more = events(0x4000n)
  const bid3 = more.add('book:level', [BOOK], level('bid', '100', 3))
  const sol = more.add('book:level', ['orderbook:SOL-USD'], { asset: 'SOL-USD', side: 'bid', price: null, qty: '2' })
  await history.append(more.made)
  t.same((await readLatestPerKey(tdb.database.db, BOOK, ZERO_ID, 10)).map((e) => e.id), [ask.id, ask99.id, bid3.id], 'built state and live appends together: the append keys an event as the backfill did')
  t.same((await readLatestPerKey(tdb.database.db, 'orderbook:SOL-USD', ZERO_ID, 10)).map((e) => e.id), [sol.id], 'a null field and a missing one are the same key, on both paths')

  // The catalog now keys its book by side alone: that pattern's state is rebuilt, the price's kept.
  const bySide: Catalog = { ...tradingCatalog, conflate: { ...tradingCatalog.conflate!, topics: { ...tradingCatalog.conflate!.topics, 'orderbook:{asset}': { key: 'side' } } } }
  t.same(await syncLatestPerKey(tdb.database.db, conflatedTopics(bySide)), { built: ['orderbook:{asset}'], dropped: [] }, 'a changed key spec rebuilds its pattern only')
  t.same(await rows(tdb), [
    `${BOOK} ["ask"] ${ask99.id}`,
    `${BOOK} ["bid"] ${bid3.id}`,
    `orderbook:ETH-USD ["bid"] ${eth.id}`,
    `orderbook:SOL-USD ["bid"] ${sol.id}`,
    `price:BTC-USD ["BTC-USD"] ${price.id}`,
  ], 'one key per side now')
  const specs = await tdb.query<{ pattern: string; key: string }>('SELECT pattern, key FROM walcast.latest_per_key_specs ORDER BY pattern')
  t.same(specs.rows, [{ pattern: 'orderbook:{asset}', key: 'side' }, { pattern: 'price:{asset}', key: 'asset' }], 'the markers say which spec each pattern was built with')
})
