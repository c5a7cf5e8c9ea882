import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { startFeedService } from '../helpers/feed.ts'
import { signToken } from '../helpers/tokens.ts'
import { connectWs } from '../helpers/ws-client.ts'
import { makeEvent } from '../../src/history/event.ts'
import { createHistoryStore } from '../../src/history/store.ts'
import { migrate } from '../../src/db/migrate.ts'
import { pruneHistory } from '../../src/history/prune.ts'
import { formatEventId } from '../../src/event-id.ts'
import { waitFor } from '../helpers/wait.ts'

const BOOK = 'orderbook:BTC-USD'
const OLD = new Date(Date.now() - 10 * 86_400_000)

// Pruning keeps the latest event of each key of a conflated topic, however old, but the
// horizon moves past it: a subscription started at the horizon was served only the keys
// changed since, and a book level untouched for longer than the retention was missing.
t.test('I17: after a prune, a fresh or resuming subscriber to a conflated topic is served every key, however old its last change', async (t) => {
  const tdb = await createTestDatabase(t, { prepared: false })
  const oldBid = makeEvent({ lsn: 0x100n, seq: 0 }, { type: 'book:level', topics: [BOOK], data: { asset: 'BTC-USD', side: 'bid', price: '1', qty: '1' } }, OLD)
  const ask1 = makeEvent({ lsn: 0x101n, seq: 0 }, { type: 'book:level', topics: [BOOK], data: { asset: 'BTC-USD', side: 'ask', price: '3', qty: '1' } }, OLD)
  const ask2 = makeEvent({ lsn: 0x102n, seq: 0 }, { type: 'book:level', topics: [BOOK], data: { asset: 'BTC-USD', side: 'ask', price: '3', qty: '2' } }, OLD)
  const trade = makeEvent({ lsn: 0x103n, seq: 0 }, { type: 'trade:executed', topics: ['trades:BTC-USD'], data: { tradeId: '1', asset: 'BTC-USD', price: '1', qty: '1' } }, OLD)
  // A history stored before this start (and before the state table): the start builds it.
  await migrate(tdb.database.db)
  await createHistoryStore(tdb.database.db).append([oldBid, ask1, ask2, trade])
  const { service } = await startFeedService(t, tdb, { WALCAST_CATALOG: 'trading', WALCAST_CONFLATE_INTERVAL: '20ms' })
  // The service's pruner may have run already (it does once the state is built): ask once more, then look.
  await service.latestPerKey.synced
  await pruneHistory(service.database.db, { retentionMs: 86_400_000, pruneBatch: 100, pruneIntervalMs: 60_000 })
  const left = await tdb.query<{ type: string; qty: string }>(`SELECT type, payload ->> 'qty' AS qty FROM walcast.events ORDER BY commit_lsn`)
  t.same(left.rows, [{ type: 'book:level', qty: '1' }, { type: 'book:level', qty: '2' }], 'the superseded ask and the trade are pruned; the latest bid and ask stay')
  t.equal(formatEventId((await service.history.horizon())!), trade.id, 'the horizon is past the kept levels')
  await tdb.query(`INSERT INTO public.users (id, display_name, email) VALUES (1, 'Ada', 'ada@example.com')`)
  await tdb.query(`INSERT INTO trading.assets (symbol, name) VALUES ('BTC-USD', 'Bitcoin')`)
  await tdb.query(`INSERT INTO trading.book_levels (asset, side, price, qty) VALUES ('BTC-USD', 'ask', 2, 5)`)
  await waitFor(() => (service.hub.head() ?? '') > trade.id ? true : undefined, 15_000, 'the new level in the hub')

  const fresh = await connectWs(t, service.http.port, await signToken('1'))
  t.equal((await fresh.subscribeAndWait(BOOK)).op, 'subscribed', 'a fresh subscriber: no reset')
  const book = await waitFor(() => fresh.events(BOOK).length >= 3 ? fresh.events(BOOK) : undefined, 15_000, 'the whole book')
  t.same(book.map((f) => (f.data as { price: string }).price), ['1', '3', '2.00000000'], 'the levels kept past the retention, then the new one')
  t.equal((book[1]!.data as { qty: string }).qty, '2', 'each on its latest value')

  const resumed = await connectWs(t, service.http.port, await signToken('1'))
  t.equal((await resumed.subscribeAndWait(BOOK, { since: oldBid.id })).op, 'subscribed', 'a resume from below the horizon: the state, not a reset')
  const after = await waitFor(() => resumed.events(BOOK).length >= 2 ? resumed.events(BOOK) : undefined, 15_000, 'the state after the cursor')
  t.same(after.map((f) => f.id), [book[1]!.id, book[2]!.id], 'every key changed after the cursor')
  const trades = await resumed.subscribeAndWait('trades:BTC-USD', { since: oldBid.id })
  t.same([trades.op, trades.reason], ['reset', 'history_gone'], 'a log topic from the same position is reset (I4)')
})
