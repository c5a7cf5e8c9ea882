import pg from 'pg'
import t from 'tap'
import type { Test } from 'tap'
import { CLOSE } from '../../src/protocol/close-codes.ts'
import { migrate } from '../../src/db/migrate.ts'
import { makeEvent } from '../../src/history/event.ts'
import { createHistoryStore } from '../../src/history/store.ts'
import type { Service } from '../../src/service.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts'
import { openSse, startFeedService } from '../helpers/feed.ts'
import { capturingLogger } from '../helpers/log.ts'
import { signToken } from '../helpers/tokens.ts'
import { sleep, waitFor } from '../helpers/wait.ts'
import { connectWs } from '../helpers/ws-client.ts'

// A newly conflated pattern's state is built from the whole retained history. Awaited in
// start-up, a long history kept the node from serving anything (not even /healthz), and a
// start-up probe killed it, so the work began again on every start. Now the node serves at
// once and only the state reads of the pattern being built wait, bounded (I17, I18).

const BOOK = 'orderbook:BTC-USD'
const OLD = new Date(Date.now() - 86_400_000)
const ZERO = '0000000000000000-00000000'
/** The pg_locks rows of the test's own database. */
const HERE = `database = (SELECT oid FROM pg_database WHERE datname = current_database())`

/** A history stored before this catalog conflated anything: the start has to build the state. */
async function oldHistory(tdb: TestDatabase): Promise<void> {
  const level = (lsn: bigint, side: string, price: string, qty: string) =>
    makeEvent({ lsn, seq: 0 }, { type: 'book:level', topics: [BOOK], data: { asset: 'BTC-USD', side, price, qty } }, OLD)
  await migrate(tdb.database.db)
  await createHistoryStore(tdb.database.db).append([
    level(0x100n, 'bid', '1', '1'), level(0x101n, 'ask', '3', '1'), level(0x102n, 'ask', '3', '2'),
    makeEvent({ lsn: 0x103n, seq: 0 }, { type: 'trade:executed', topics: ['trades:BTC-USD'], data: { tradeId: '1', asset: 'BTC-USD', price: '1', qty: '1' } }, OLD),
  ])
}

/** Holds the latest_per_key lock from a connection of its own, as a long backfill would: the start's backfill waits for it. */
async function holdBackfill(t: Test, tdb: TestDatabase): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: tdb.url })
  client.on('error', () => {})
  await client.connect()
  await client.query(`SELECT pg_advisory_lock(hashtext('walcast.latest_per_key'))`)
  let released = false
  const release = async (): Promise<void> => {
    if (released) return
    released = true
    await client.end()
  }
  t.teardown(release)
  return release
}

/** startService, which must return while the backfill is held (it did not: start-up awaited it). */
async function startWhileHeld(t: Test, tdb: TestDatabase, env: Record<string, string>, log?: ReturnType<typeof capturingLogger>['log']): Promise<{ service: Service; url: string }> {
  let timer: NodeJS.Timeout | undefined
  const blocked = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('start-up did not finish while the latest_per_key backfill was held')), 20_000)
  })
  try {
    return await Promise.race([startFeedService(t, tdb, { WALCAST_CATALOG: 'trading', WALCAST_CONFLATE_INTERVAL: '20ms', ...env }, log), blocked])
  } finally {
    clearTimeout(timer)
  }
}

async function market(tdb: TestDatabase): Promise<void> {
  await tdb.query(`INSERT INTO public.users (id, display_name, email) VALUES (1, 'Ada', 'ada@example.com'), (2, 'Sam', 'sam@example.com')`)
  await tdb.query(`INSERT INTO trading.assets (symbol, name) VALUES ('BTC-USD', 'Bitcoin')`)
}

const lastQty = (frames: readonly { data?: unknown }[]): Record<string, string> =>
  Object.fromEntries(frames.map((f) => [(f.data as { price: string }).price, (f.data as { qty: string }).qty]))

t.test('I17, I18: while a new conflated pattern\'s state is built the node serves; its state reads wait for it, then get the whole state', async (t) => {
  const tdb = await createTestDatabase(t, { prepared: false })
  await oldHistory(tdb)
  const release = await holdBackfill(t, tdb)
  const { service, url } = await startWhileHeld(t, tdb, {})

  const health = await fetch(`${url}/healthz`)
  t.same([health.status, await health.json()], [200, { status: 'ok', building: ['orderbook:{asset}', 'price:{asset}'] }], '/healthz answers and says which state is being built')
  const ready = await fetch(`${url}/readyz`)
  t.same([ready.status, await ready.json()], [200, { status: 'ready', building: ['orderbook:{asset}', 'price:{asset}'] }], 'the node stays ready: it serves everything else')

  await market(tdb)
  const ada = await connectWs(t, service.http.port, await signToken('1'))
  t.equal((await ada.subscribeAndWait('trades:BTC-USD')).op, 'subscribed', 'a topic that is not conflated is served at once')
  await tdb.query(`INSERT INTO trading.trades (asset, price, qty, taker_side, buyer_id, seller_id) VALUES ('BTC-USD', 100, 0.5, 'buy', 1, 2)`)
  await waitFor(() => ada.events('trades:BTC-USD')[0], 15_000, 'the live trade while the state is built')

  const sam = await connectWs(t, service.http.port, await signToken('2'))
  sam.subscribe(BOOK, { ref: 'book' })
  // A level appended live while the state is built: the state built after it must hold it.
  await tdb.query(`INSERT INTO trading.book_levels (asset, side, price, qty) VALUES ('BTC-USD', 'ask', 2, 5)`)
  await waitFor(() => (service.hub.head() ?? '') > ZERO ? true : undefined, 15_000, 'the new level in the hub')
  await sleep(1000)
  t.same(sam.events(BOOK), [], 'the state subscription waits: no value from a state not yet built')
  t.notOk(sam.frames.some((f) => f.op === 'subscribed' || f.op === 'error'), 'neither served nor refused yet')

  await release()
  const book = await waitFor(() => {
    const got = lastQty(sam.events(BOOK))
    return Object.keys(got).length >= 3 ? got : undefined
  }, 15_000, 'the whole book once the state is built')
  t.same(book, { '1': '1', '3': '2', '2.00000000': '5.00000000' }, 'every level of the history on its latest value, and the one appended meanwhile')
  t.equal(sam.frames.find((f) => f.op === 'subscribed')?.mode, 'conflated')
  t.same(await (await fetch(`${url}/healthz`)).json(), { status: 'ok' }, 'built: /healthz is plain again')
})

t.test('I18: a state read held past WALCAST_DB_REPLAY_WAIT is shed as overload (WebSocket 1013, SSE and polling 503 `overloaded`); a failed backfill is logged and tried again; a stop mid-backfill leaves nothing half-built', async (t) => {
  const tdb = await createTestDatabase(t, { prepared: false })
  await oldHistory(tdb)
  const release = await holdBackfill(t, tdb)
  const { log, lines } = capturingLogger('info')
  const { service, url } = await startWhileHeld(t, tdb, { WALCAST_DB_REPLAY_WAIT: '700ms' }, log)
  await market(tdb)
  const token = await signToken('1')

  const ws = await connectWs(t, service.http.port, token)
  ws.subscribe(BOOK, { ref: 'book' })
  const closed = await ws.closed
  t.equal(closed.code, CLOSE.tryAgainLater, 'the WebSocket is closed with 1013: come back later')
  const sse = await openSse(`${url}/v1/sse?topic=${BOOK}`, { authorization: `Bearer ${token}` })
  t.teardown(() => sse.close())
  if (sse.status === 200) {
    await waitFor(() => sse.ended() ? true : undefined, 10_000, 'the SSE stream to be shed')
    const last = sse.messages.at(-1)
    t.match([last?.event, JSON.parse(last?.data ?? '{}')], ['close', { code: CLOSE.tryAgainLater }], 'the SSE stream ends with close 1013')
  } else {
    t.match([sse.status, sse.body], [503, { error: { code: 'overloaded' } }], 'the SSE open is answered 503 overloaded')
  }
  const poll = await fetch(`${url}/v1/events?topic=${BOOK}&after=${ZERO}`, { headers: { authorization: `Bearer ${token}` } })
  t.match([poll.status, await poll.json()], [503, { error: { code: 'overloaded' } }], 'a poll is answered 503 overloaded')
  const trades = await fetch(`${url}/v1/events?topic=trades:BTC-USD&after=${ZERO}`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(trades.status, 200, 'a poll of a topic not being built is answered')

  // The backfill fails (its wait cancelled, as a statement timeout would): logged, retried.
  // pg_locks is the whole server's: another test's database may have an advisory wait of its own.
  const waiting = await tdb.query<{ pid: number }>(`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND ${HERE}`)
  t.equal(waiting.rows.length, 1, 'the backfill waits for the lock')
  await tdb.query('SELECT pg_cancel_backend($1)', [waiting.rows[0]!.pid])
  await waitFor(() => lines().some((line) => line.includes('state failed (rolled back); will try again')) ? true : undefined, 10_000, 'the failure logged')
  await waitFor(async () => (await tdb.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND ${HERE}`)).rows.length === 1 ? true : undefined, 10_000, 'the retry to wait for the lock')
  t.equal((await fetch(`${url}/healthz`)).status, 200, 'the process goes on')

  // A stop while the backfill is held cancels it: rolled back, nothing half-built.
  const started = Date.now()
  await service.stop()
  t.ok(Date.now() - started < 10_000, 'the stop does not wait for the backfill')
  const specs = await tdb.query(`SELECT pattern FROM walcast.latest_per_key_specs`)
  t.same(specs.rows, [], 'no pattern recorded as built')
  await release()
})
