import t from 'tap'
import type { Hub } from '../../src/hub/hub.ts'
import { tradingCatalog } from '../../src/catalogs/trading/index.ts'
import { burstBook, fillOrder, placeOrder, tradingDemoScript } from '../../src/catalogs/trading/demo-writer.ts'
import { startDemoWriter } from '../../src/demo/writer.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts'
import { openSse, startFeedService, type SseReader } from '../helpers/feed.ts'
import { silentLogger } from '../helpers/log.ts'
import { historyRows, waitForHistory } from '../helpers/service.ts'
import { signToken } from '../helpers/tokens.ts'
import { sleep, waitFor } from '../helpers/wait.ts'
import { connectWs, type ServerFrame } from '../helpers/ws-client.ts'
import { connectClient, switchboard } from '../helpers/sdk.ts'

const BOOK = 'orderbook:BTC-USD'

async function market(tdb: TestDatabase): Promise<void> {
  await tdb.query(`INSERT INTO public.users (id, display_name, email) VALUES (1, 'Ada', 'ada@example.com'), (2, 'Sam', 'sam@example.com')`)
  await tdb.query(`INSERT INTO trading.assets (symbol, name) VALUES ('BTC-USD', 'Bitcoin'), ('ETH-USD', 'Ether')`)
  await tdb.query(`INSERT INTO trading.balances (user_id, currency, available) VALUES (1, 'USD', 100000), (2, 'USD', 100000)`)
}

const sseData = (reader: SseReader, type: string): Record<string, unknown>[] =>
  reader.messages.filter((m) => m.event === type).map((m) => (JSON.parse(m.data) as { data: Record<string, unknown> }).data)
const qtyOf = (frames: readonly ServerFrame[], price: string): string[] => frames.filter((f) => (f.data as { price: string }).price === price).map((f) => (f.data as { qty: string }).qty)

/**
 * How long the hub took to publish the book's changes, first to last: the conflater can
 * only flush within that window, which outlasts the writer's by however far the ingest fell
 * behind (a loaded host).
 */
function watchBookPublished(hub: Pick<Hub, 'subscribe'>): () => number {
  let firstAt: number | undefined
  let lastAt = 0
  hub.subscribe((events) => {
    if (!events.some((e) => e.topics.includes(BOOK))) return
    lastAt = Date.now()
    firstAt ??= lastAt
  })
  return () => lastAt - firstAt!
}

t.test('trading: every event on its topic, market data for any signed-in user, orders and balances for their owner only', async (t) => {
  const tdb = await createTestDatabase(t, { prepared: false })
  const { service, url } = await startFeedService(t, tdb, { WALCAST_CATALOG: 'trading', WALCAST_CONFLATE_INTERVAL: '20ms' })
  t.equal(service.catalog.name, 'trading')
  await market(tdb)
  // The market's two opening balances published before Ada subscribes: committed earlier
  // but published after her subscription's head, the first would reach her live, as the
  // protocol says it must, and take the place of the balance move checked below.
  const opening = await waitForHistory(tdb, 2)
  await waitFor(() => (service.hub.lastId() ?? '') >= opening.at(-1)!.id, 15_000, 'the opening balances published')
  const ada = await connectWs(t, service.http.port, await signToken('1'))
  const sam = await connectWs(t, service.http.port, await signToken('2'))
  for (const topic of [BOOK, 'trades:BTC-USD', 'price:BTC-USD', 'user:1']) t.equal((await ada.subscribeAndWait(topic)).op, 'subscribed', `Ada reads ${topic}`)
  const refused = await sam.subscribeAndWait('user:1', { ref: 'r' })
  t.same([refused.op, refused.code], ['error', 'forbidden'], 'another user\'s orders and balances are refused')
  const malformed = await sam.subscribeAndWait('orderbook:BTC$USD', { ref: 'r' })
  t.same([malformed.op, malformed.code], ['error', 'forbidden'], 'an asset outside the text shape names no topic (I10)')
  const anonymous = await fetch(`${url}/v1/sse?topic=${BOOK}`)
  t.equal(anonymous.status, 401, 'market data needs a signed-in reader')
  const book = await ada.subscribeAndWait('orderbook:ETH-USD')
  t.equal(book.mode, 'conflated', 'subscribed says a book is conflated')
  t.equal((await ada.subscribeAndWait('trades:ETH-USD')).mode, undefined, 'and trades are not')

  await tdb.query(`INSERT INTO trading.book_levels (asset, side, price, qty) VALUES ('BTC-USD', 'bid', 100, 5), ('BTC-USD', 'ask', 101, 3)`)
  await tdb.query(`DELETE FROM trading.book_levels WHERE side = 'ask'`)
  await tdb.query(`DELETE FROM trading.book_levels WHERE side = 'bid'`)
  await tdb.query(`INSERT INTO trading.book_levels (asset, side, price, qty) VALUES ('BTC-USD', 'bid', 99, 5)`)
  await tdb.query(`INSERT INTO trading.trades (asset, price, qty, taker_side, buyer_id, seller_id) VALUES ('BTC-USD', 100, 0.5, 'buy', 1, 2)`)
  await tdb.query(`INSERT INTO trading.prices (asset, price, updated_at) VALUES ('BTC-USD', 100, '2026-12-02T08:00:00Z')`)
  await tdb.query(`INSERT INTO trading.orders (id, user_id, asset, side, price, qty, client_ref, updated_at) VALUES (7, 1, 'BTC-USD', 'buy', 100, 1, 'my-secret-ref', '2026-12-02T08:00:00Z')`)
  await tdb.query(`UPDATE trading.orders SET client_ref = 'other' WHERE id = 7`)
  await tdb.query(`UPDATE trading.orders SET filled = 1, status = 'filled', updated_at = '2026-12-02T08:00:01Z' WHERE id = 7`)
  await tdb.query(`UPDATE trading.balances SET updated_at = now() WHERE user_id = 1`)
  await tdb.query(`UPDATE trading.balances SET available = 99900, locked = 100, updated_at = '2026-12-02T08:00:02Z' WHERE user_id = 1`)
  const mine = await waitFor(() => ada.events('user:1').length >= 3 ? ada.events('user:1') : undefined, 15_000, 'Ada\'s order and balance updates')
  t.same(mine.map((f) => [f.type, f.data]), [
    ['order:update', { orderId: '7', asset: 'BTC-USD', side: 'buy', price: '100.00000000', qty: '1.00000000', filled: '0.00000000', status: 'open', updatedAt: '2026-12-02T08:00:00.000Z' }],
    ['order:update', { orderId: '7', asset: 'BTC-USD', side: 'buy', price: '100.00000000', qty: '1.00000000', filled: '1.00000000', status: 'filled', updatedAt: '2026-12-02T08:00:01.000Z' }],
    ['balance:update', { currency: 'USD', available: '99900.00000000', locked: '100.00000000', updatedAt: '2026-12-02T08:00:02.000Z' }],
  ], 'placed and filled (a client_ref edit is no event); a balance move (a touch of updated_at alone is none)')
  const levels = await waitFor(() => qtyOf(ada.events(BOOK), '99.00000000').length > 0 ? ada.events(BOOK) : undefined, 15_000, 'the book')
  t.same(levels.find((f) => (f.data as { price: string }).price === '99.00000000')!.data, { asset: 'BTC-USD', side: 'bid', price: '99.00000000', qty: '5.00000000' }, 'a level with its quantity')
  t.same(qtyOf(levels, '101.00000000').at(-1), '0', 'the ask level ends removed')
  t.same(qtyOf(levels, '100.00000000').at(-1), '0', 'a deleted bid ends as qty 0')
  t.same(qtyOf(levels, '99.00000000').at(-1), '5.00000000')
  const trade = await waitFor(() => ada.events('trades:BTC-USD')[0], 15_000, 'the trade')
  t.same(trade.data, { tradeId: '1', asset: 'BTC-USD', price: '100.00000000', qty: '0.50000000', takerSide: 'buy', executedAt: (trade.data as { executedAt: string }).executedAt })
  const price = await waitFor(() => ada.events('price:BTC-USD')[0], 15_000, 'the price')
  t.same(price.data, { asset: 'BTC-USD', price: '100.00000000', updatedAt: '2026-12-02T08:00:00.000Z' })
  t.same(sam.events(), [], 'Sam subscribed to nothing he may read, and got nothing')
  const text = JSON.stringify(await historyRows(tdb))
  for (const secret of ['my-secret-ref', 'example.com', 'buyer', 'seller', 'clientRef']) t.notOk(text.includes(secret), `no payload carries ${secret}`)

  const mixed = await openSse(`${url}/v1/sse?topic=${BOOK}&topic=user:1`, { authorization: `Bearer ${await signToken('1')}` })
  t.equal(mixed.status, 400, 'one SSE stream does not mix a conflated topic with a gapless one (one cursor)')
  t.match(mixed.body, { error: { code: 'bad_request', message: /conflated topic orderbook:BTC-USD needs a stream of its own/ } })
  const both = await openSse(`${url}/v1/sse?topic=${BOOK}&topic=price:BTC-USD`, { authorization: `Bearer ${await signToken('1')}` })
  t.teardown(() => both.close())
  t.equal(both.status, 200, 'conflated topics share a stream')
  await waitFor(() => both.messages.filter((m) => m.event === 'subscribed').length === 2, 10_000, 'subscribed')
  t.same(both.messages.filter((m) => m.event === 'subscribed').map((m) => (JSON.parse(m.data) as { mode: string }).mode), ['conflated', 'conflated'])
})

t.test('I17: a burst on one level reaches WebSocket and SSE clients a few times, ending on the value in the database', async (t) => {
  const tdb = await createTestDatabase(t, { prepared: false })
  const { service, url } = await startFeedService(t, tdb, { WALCAST_CATALOG: 'trading', WALCAST_CONFLATE_INTERVAL: '250ms' })
  await market(tdb)
  await tdb.query(`INSERT INTO trading.book_levels (asset, side, price, qty) VALUES ('BTC-USD', 'bid', 100, 1), ('BTC-USD', 'bid', 99, 1)`)
  await waitForHistory(tdb, 2 + 2)
  const ws = await connectWs(t, service.http.port, await signToken('1'))
  t.equal((await ws.subscribeAndWait(BOOK)).mode, 'conflated')
  const sse = await openSse(`${url}/v1/sse?topic=${BOOK}`, { authorization: `Bearer ${await signToken('2')}` })
  t.teardown(() => sse.close())
  await waitFor(() => sse.messages.some((m) => m.event === 'subscribed'), 10_000, 'the SSE stream')
  await waitFor(() => ws.events(BOOK).length >= 2 && sseData(sse, 'book:level').length >= 2, 10_000, 'the current book first')
  t.same(ws.events(BOOK).map((f) => (f.data as { qty: string }).qty), ['1.00000000', '1.00000000'], 'a new subscription is served the book as it stands: each level once')
  const before = ws.events(BOOK).length
  const beforeSse = sseData(sse, 'book:level').length
  const bookPublishedMs = watchBookPublished(service.hub)

  const started = Date.now()
  const N = 400
  for (let i = 1; i <= N; i++) await tdb.query(`UPDATE trading.book_levels SET qty = ${i} WHERE side = 'bid' AND price = 100`)
  await tdb.query(`UPDATE trading.book_levels SET qty = 7 WHERE side = 'bid' AND price = 99`)
  const writtenMs = Date.now() - started
  await waitForHistory(tdb, 2 + 2 + N + 1, 30_000)
  const final = await waitFor(() => {
    const q = qtyOf(ws.events(BOOK), '100.00000000')
    return q.at(-1) === `${N}.00000000` ? q : undefined
  }, 10_000, 'the final value on the WebSocket')
  await sleep(600)
  const wsBurst = ws.events(BOOK).slice(before)
  const sseBurst = sseData(sse, 'book:level').slice(beforeSse)
  const burstMs = bookPublishedMs()
  const allowed = Math.ceil(burstMs / 250) + 3
  t.ok(wsBurst.length < 2 * allowed, `WebSocket: ${wsBurst.length} frames for ${N + 1} changes written in ${writtenMs} ms, published over ${burstMs} ms (at most one per level every 250 ms)`)
  t.ok(sseBurst.length < 2 * allowed, `SSE: ${sseBurst.length} messages`)
  t.equal(final.at(-1), `${N}.00000000`, 'the last word on the hot level is the final value in the database')
  t.equal(qtyOf(wsBurst, '99.00000000').at(-1), '7.00000000', 'and on the other level')
  t.equal(qtyOf(sseBurst.map((data) => ({ data }) as unknown as ServerFrame), '100.00000000').at(-1), `${N}.00000000`, 'SSE ends on it too')
  const ids = wsBurst.map((f) => f.id!)
  t.same(ids, [...ids].sort(), 'ids only move forward on the topic')
  const stats = service.subscriptions.isConflated(BOOK)
  t.equal(stats, true)
  t.equal(service.subscriptions.isConflated('trades:BTC-USD'), false)
})

t.test('I17: a client resuming on a conflated topic gets the latest value of each level changed since, then live updates', async (t) => {
  const tdb = await createTestDatabase(t, { prepared: false })
  const { service, url } = await startFeedService(t, tdb, { WALCAST_CATALOG: 'trading', WALCAST_CONFLATE_INTERVAL: '50ms' })
  await market(tdb)
  await tdb.query(`INSERT INTO trading.book_levels (asset, side, price, qty) VALUES ('BTC-USD', 'bid', 100, 1), ('BTC-USD', 'bid', 99, 1), ('BTC-USD', 'ask', 101, 1)`)
  await waitForHistory(tdb, 2 + 3)
  const rows = await historyRows(tdb)
  const since = rows.at(-1)!.id
  for (let i = 2; i <= 50; i++) await tdb.query(`UPDATE trading.book_levels SET qty = ${i} WHERE price = ${i % 2 === 0 ? 100 : 101}`)
  // Published, not only durable: the state served up to the subscription's head is compared
  // with the last values; one published after that head would come live, after `subscribed`.
  const updated = await waitForHistory(tdb, 2 + 3 + 49)
  await waitFor(() => (service.hub.lastId() ?? '') >= updated.at(-1)!.id, 15_000, 'the updates published')
  const ws = await connectWs(t, service.http.port, await signToken('1'))
  const subscribed = await ws.subscribeAndWait(BOOK, { since })
  t.equal(subscribed.mode, 'conflated')
  // What came before `subscribed`: a held value flushed right after it is at or below its head (the SDK drops it).
  const replayed = ws.frames.slice(0, ws.frames.indexOf(subscribed)).filter((f) => f.op === 'event' && f.topic === BOOK)
  t.same(replayed.map((f) => [(f.data as { price: string }).price, (f.data as { qty: string }).qty]), [['101.00000000', '49.00000000'], ['100.00000000', '50.00000000']],
    'one event per level changed after since, its latest, in id order; the unchanged level is not repeated')
  const response = await fetch(`${url}/v1/events?topic=${BOOK}&after=${since}`, { headers: { authorization: `Bearer ${await signToken('1')}` } })
  const polled = await response.json() as { events: ServerFrame[] }
  t.equal(response.status, 200, JSON.stringify(polled))
  t.same(polled.events.map((f) => f.id), replayed.map((f) => f.id), 'polling pages serve the same state')
  await tdb.query(`UPDATE trading.book_levels SET qty = 51 WHERE price = 99`)
  await waitFor(() => qtyOf(ws.events(BOOK), '99.00000000').at(-1) === '51.00000000', 10_000, 'the live update after the state')
  const sse = await openSse(`${url}/v1/sse?topic=${BOOK}`, { authorization: `Bearer ${await signToken('1')}`, 'last-event-id': since })
  t.teardown(() => sse.close())
  await waitFor(() => sse.messages.some((m) => m.event === 'subscribed'), 10_000, 'the SSE resume')
  t.same(sseData(sse, 'book:level').map((d) => d.qty), ['49.00000000', '50.00000000', '51.00000000'], 'SSE resumes with the same state')
  const both = await openSse(`${url}/v1/sse?topic=${BOOK}&topic=price:BTC-USD`, { authorization: `Bearer ${await signToken('1')}`, 'last-event-id': since })
  t.teardown(() => both.close())
  await waitFor(() => both.messages.filter((m) => m.event === 'subscribed').length === 2, 10_000, 'the two-topic SSE resume')
  t.same(sseData(both, 'book:level').map((d) => d.qty), ['49.00000000', '50.00000000', '51.00000000'], 'a stream of two conflated topics resumes with the same state (one read per topic)')
  const fresh = await connectWs(t, service.http.port, await signToken('2'))
  await fresh.subscribeAndWait(BOOK)
  t.same(fresh.events(BOOK).map((f) => (f.data as { qty: string }).qty).sort(), ['49.00000000', '50.00000000', '51.00000000'], 'a fresh subscription gets the whole book, each level once')
})

t.test('I17: during a book burst every order and balance update reaches its owner in order, gapless, exactly once', async (t) => {
  const tdb = await createTestDatabase(t, { prepared: false })
  const { service, url } = await startFeedService(t, tdb, { WALCAST_CATALOG: 'trading', WALCAST_CONFLATE_INTERVAL: '100ms' })
  await market(tdb)
  await tdb.query(`INSERT INTO trading.book_levels (asset, side, price, qty) SELECT 'BTC-USD', 'bid', 100 + i, 1 FROM generate_series(1, 40) i`)
  await waitForHistory(tdb, 2 + 40)
  const ws = await connectWs(t, service.http.port, await signToken('1'))
  const head = (await ws.subscribeAndWait('user:1')).head!
  await ws.subscribeAndWait(BOOK)
  const sse = await openSse(`${url}/v1/sse?topic=user:1`, { authorization: `Bearer ${await signToken('1')}` })
  t.teardown(() => sse.close())
  await waitFor(() => sse.messages.some((m) => m.event === 'subscribed'), 10_000, 'the SSE stream')
  const db = service.database.db
  const bookPublishedMs = watchBookPublished(service.hub)
  // At least 2 s and more than 1,000 changes: on a loaded host 2 s of ticks commit fewer.
  const burst = (async (): Promise<number> => {
    const started = Date.now()
    let changes = 0
    while (changes <= 1000 || Date.now() - started < 2000) changes += await burstBook(db, { asset: 'BTC-USD', ms: Math.max(100, 2000 - (Date.now() - started)), perSecond: 2000, perTick: 20 })
    return changes
  })()
  for (let i = 0; i < 20; i++) {
    const order = await placeOrder(db, '1', 'BTC-USD', 'buy', '100', '0.2')
    await fillOrder(db, order, '0.1')
    await fillOrder(db, order, '0.1')
  }
  const changes = await burst
  await sleep(500)
  const expected = (await historyRows(tdb)).filter((r) => r.topics.includes('user:1') && r.id > head)
  t.ok(expected.length >= 20 * 3 + 20 * 4, `${expected.length} order and balance updates committed`)
  await waitFor(() => { return ws.events('user:1').length >= expected.length && sse.messages.filter((m) => m.id !== undefined && m.event !== 'book:level').length >= expected.length}, 30_000, 'every update')
  await sleep(300)
  t.same(ws.events('user:1').map((f) => f.id), expected.map((r) => r.id), 'WebSocket: every update of user:1, in order, once')
  t.same(sse.messages.filter((m) => m.event === 'order:update' || m.event === 'balance:update').map((m) => m.id), expected.map((r) => r.id), 'SSE: the same')
  const perLevel = new Map<string, number>()
  for (const f of ws.events(BOOK)) perLevel.set((f.data as { price: string }).price, (perLevel.get((f.data as { price: string }).price) ?? 0) + 1)
  const most = Math.max(...perLevel.values())
  // Its state at subscribe, the flush at the first change, one per 100 ms of the window
  // after it, and one for the clocks read a moment apart.
  const publishedMs = bookPublishedMs()
  t.ok(most <= Math.ceil(publishedMs / 100) + 3, `a level reached the client at most ${most} times while the burst was published over ${publishedMs} ms at one per 100 ms (${ws.events(BOOK).length} frames for ${changes} changes)`)
})

t.test('the trading demo: seeded once, a step bursts the books and fills an order', async (t) => {
  const tdb = await createTestDatabase(t, { prepared: false })
  const { service } = await startFeedService(t, tdb, { WALCAST_CATALOG: 'trading' })
  await tradingCatalog.demo!.seed(service.database.db, silentLogger())
  await tradingCatalog.demo!.seed(service.database.db, silentLogger())
  const levels = await tdb.query<{ n: number }>('SELECT count(*)::int AS n FROM trading.book_levels')
  t.equal(levels.rows[0]!.n, 3 * 2 * 25, 'seeded once: three books of 25 levels a side')
  const writer = startDemoWriter(service.database.db, silentLogger(), 0, { script: () => tradingDemoScript({ burstMs: 300, perSecond: 1500 }) })
  const steps = [await writer.step(), await writer.step()]
  await writer.stop()
  t.match(steps[0], /^\d+ book changes; order \d+ \(buy ETH-USD\) filled$/)
  t.match(steps[1], /\(sell SOL-USD\) filled$/)
  const rows = await waitFor(async () => {
    const all = await historyRows(tdb)
    return all.filter((r) => r.type === 'order:update').length >= 6 ? all : undefined
  }, 20_000, 'the demo\'s events')
  for (const type of ['book:level', 'trade:executed', 'price:updated', 'order:update', 'balance:update']) t.ok(rows.some((r) => r.type === type), `the demo writes ${type}`)
  const overview = await tradingCatalog.dashboard!.list(service.database.db, '1', 50)
  t.same(overview.map((r) => [r.id, r.topic]), [['BTC-USD', 'price:BTC-USD'], ['ETH-USD', 'price:ETH-USD'], ['SOL-USD', 'price:SOL-USD']], 'the dashboard lists the markets on their price topics')
  t.match(overview[1]!.cells, { asset: 'ETH-USD', price: /^\d+/, bid: /^\d+/, ask: /^\d+/ })
})

t.test('I17: a conflated subscriber paced out of live delivery (a client reading slower than the book) still ends on the database\'s values', async (t) => {
  const tdb = await createTestDatabase(t, { prepared: false })
  const { service } = await startFeedService(t, tdb, { WALCAST_CATALOG: 'trading', WALCAST_CONFLATE_INTERVAL: '30ms', WALCAST_MAX_BACKPRESSURE: '65536' })
  await market(tdb)
  await tdb.query(`INSERT INTO trading.book_levels (asset, side, price, qty) SELECT 'BTC-USD', 'bid', 1000 + i, 1 FROM generate_series(1, 2000) i`)
  await waitForHistory(tdb, 2 + 2000)
  const slow = await connectWs(t, service.http.port, await signToken('1'))
  await slow.subscribeAndWait(BOOK)
  const watcher = await connectWs(t, service.http.port, await signToken('2'))
  await watcher.subscribeAndWait('trades:BTC-USD')
  await waitFor(() => slow.events(BOOK).length >= 2000, 20_000, 'the book')
  slow.pause()
  const paced = service.gateway.stats().pacedSubscriptions
  // ~6 MB of frames: past the kernel's socket buffers (about 4 MB on loopback) and the limit.
  for (let round = 2; round <= 16; round++) {
    // Every level changes, and a trade (another topic, delivered at once) lands between rounds.
    await tdb.query(`UPDATE trading.book_levels SET qty = ${round} WHERE asset = 'BTC-USD'`)
    await tdb.query(`INSERT INTO trading.trades (asset, price, qty, taker_side) VALUES ('BTC-USD', 1001, ${round}, 'sell')`)
    await sleep(40)
  }
  await tdb.query(`UPDATE trading.book_levels SET qty = 99 WHERE asset = 'BTC-USD' AND price = 1001`)
  await waitForHistory(tdb, 2 + 2000 + 15 * 2001 + 1, 60_000)
  slow.resume()
  await waitFor(() => {
    // Applied as the SDK does: a frame at or below the topic's cursor is one it already has.
    const last = new Map<string, string>()
    let cursor = ''
    for (const f of slow.events(BOOK)) {
      if (f.id! <= cursor) continue
      cursor = f.id!
      last.set((f.data as { price: string }).price, (f.data as { qty: string }).qty)
    }
    return last.size === 2000 && [...last].every(([price, qty]) => qty === (price === '1001.00000000' ? '99.00000000' : '16.00000000'))
  }, 60_000, 'every level at its value in the database').catch((err) => {
    const last = new Map<string, [string, string]>()
    let cursor = ''
    let skipped = 0
    for (const f of slow.events(BOOK)) {
      if (f.id! <= cursor) { skipped++; continue }
      cursor = f.id!
      last.set((f.data as { price: string }).price, [(f.data as { qty: string }).qty, f.id!])
    }
    const wrong = [...last].filter(([price, [qty]]) => qty !== (price === '1001.00000000' ? '99.00000000' : '16.00000000'))
    t.comment('what the slow client ended on', JSON.stringify({ frames: slow.events(BOOK).length, skipped, levels: last.size, wrong: wrong.length, sample: wrong.slice(0, 3), close: slow.closeInfo(), stats: service.gateway.stats(), paced }))
    throw err
  })
  // Usually paced (kernel buffers on a busy host sometimes absorb it all): said, not asserted.
  t.comment(`paced out of live delivery: ${service.gateway.stats().pacedSubscriptions > paced}`)
  t.equal(watcher.events('trades:BTC-USD').length, 15, 'the trades reader got every trade')
})

t.test('I17: the SDK holds a conflated and a gapless topic on one connection and resumes both across a drop in a burst', async (t) => {
  const tdb = await createTestDatabase(t, { prepared: false })
  const { service, url } = await startFeedService(t, tdb, { WALCAST_CATALOG: 'trading', WALCAST_CONFLATE_INTERVAL: '100ms' })
  await market(tdb)
  await tdb.query(`INSERT INTO trading.book_levels (asset, side, price, qty) SELECT 'BTC-USD', 'ask', 200 + i, 1 FROM generate_series(1, 20) i`)
  await waitForHistory(tdb, 2 + 20)
  const net = switchboard()
  const { events } = connectClient(t, { url, token: await signToken('1'), transports: ['websocket'], WebSocket: net.WebSocket, fetch: net.fetch }, [BOOK, 'user:1'])
  await waitFor(() => events.filter((e) => e.topic === BOOK).length >= 20, 15_000, 'the book first')
  const head = (await historyRows(tdb)).at(-1)!.id
  const db = service.database.db
  const burst = burstBook(db, { asset: 'BTC-USD', ms: 1500, perSecond: 1000, perTick: 10 })
  for (let i = 0; i < 6; i++) {
    if (i === 3) net.cut('/v1/ws')
    if (i === 4) net.blocked.delete('/v1/ws')
    const order = await placeOrder(db, '1', 'BTC-USD', 'sell', '201', '0.1')
    await fillOrder(db, order, '0.1')
    await sleep(150)
  }
  await burst
  const truth = new Map((await tdb.query<{ price: string; qty: string }>(`SELECT price::text, qty::text FROM trading.book_levels`)).rows.map((r) => [r.price, r.qty]))
  const expected = (await historyRows(tdb)).filter((r) => r.topics.includes('user:1') && r.id > head).map((r) => r.id)
  await waitFor(() => {
    const last = new Map<string, string>()
    for (const e of events) if (e.topic === BOOK) last.set((e.data as unknown as { price: string }).price, (e.data as unknown as { qty: string }).qty)
    const mine = events.filter((e) => e.topic === 'user:1').map((e) => e.id)
    return [...truth].every(([price, qty]) => last.get(price) === qty) && mine.length >= expected.length
  }, 20_000, 'the book at its database values and every order and balance update')
  t.same(events.filter((e) => e.topic === 'user:1').map((e) => e.id), expected, 'user:1: every update once, in order, across the drop')
  const bookIds = events.filter((e) => e.topic === BOOK).map((e) => e.id)
  t.same(bookIds, [...bookIds].sort(), 'the SDK hands the book over in id order (a value at or below its cursor is dropped)')
})
