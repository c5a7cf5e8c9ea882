import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { startFeedService } from '../helpers/feed.ts'
import { connectClient } from '../helpers/sdk.ts'
import { waitForHistory } from '../helpers/service.ts'
import { signToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'

const BOOK = 'orderbook:BTC-USD'

// On a WebSocket the SDK took any event as proof that every other live topic had missed
// nothing up to its id. A conflated topic's change waits for the next flush, so an order
// update committed after it went out first, moved the book's resume point past it, and
// the flush was then dropped as a duplicate: the level ended on an older value than the
// database's (seen in the trading test's burst on a loaded host).
t.test('I17: on one WebSocket an event of a gapless topic does not move a conflated topic\'s resume point past a value held for the next flush', async (t) => {
  const tdb = await createTestDatabase(t, { prepared: false })
  // A long interval: the held change waits seconds while the balance update goes out at once.
  const { service, url } = await startFeedService(t, tdb, { WALCAST_CATALOG: 'trading', WALCAST_CONFLATE_INTERVAL: '3s' })
  await tdb.query(`INSERT INTO public.users (id, display_name, email) VALUES (1, 'Ada', 'ada@example.com')`)
  await tdb.query(`INSERT INTO trading.assets (symbol, name) VALUES ('BTC-USD', 'Bitcoin')`)
  await tdb.query(`INSERT INTO trading.balances (user_id, currency, available) VALUES (1, 'USD', 100)`)
  await tdb.query(`INSERT INTO trading.book_levels (asset, side, price, qty) VALUES ('BTC-USD', 'bid', 100, 1)`)
  const setup = await waitForHistory(tdb, 2)
  await waitFor(() => (service.hub.lastId() ?? '') >= setup.at(-1)!.id, 15_000, 'the setup published')
  const { client, events } = connectClient(t, { url, token: await signToken('1'), transports: ['websocket'] }, [BOOK, 'user:1'])
  const qtys = (): string[] => events.filter((e) => e.topic === BOOK).map((e) => (e.data as unknown as { qty: string }).qty)
  await waitFor(() => service.gateway.stats().subscriptions === 2 && qtys().length === 1, 15_000, 'both topics live, the book served')

  await tdb.query(`UPDATE trading.book_levels SET qty = 2 WHERE price = 100`)
  await waitFor(() => qtys().at(-1) === '2.00000000', 10_000, 'the first change flushed')
  // Held for the next flush, about 3 s away; the balance update after it is delivered now.
  await tdb.query(`UPDATE trading.book_levels SET qty = 3 WHERE price = 100`)
  await tdb.query(`UPDATE trading.balances SET available = 90, locked = 10 WHERE user_id = 1`)
  await waitFor(() => events.some((e) => e.topic === 'user:1'), 10_000, 'the balance update')
  const held = (await tdb.query<{ id: string }>(`
    SELECT lpad(to_hex((commit_lsn - '0/0')::bigint), 16, '0') || '-' || lpad(to_hex(seq), 8, '0') AS id
    FROM walcast.events WHERE topics @> ARRAY[$1] ORDER BY commit_lsn DESC, seq DESC LIMIT 1`, [BOOK])).rows[0]!.id
  t.ok(events.find((e) => e.topic === 'user:1')!.id > held, 'the balance update came after the held change, and reached the client before its flush')

  await waitFor(() => qtys().at(-1) === '3.00000000', 10_000, 'the held change at the next flush').catch((err: Error) => {
    throw new Error(`${err.message}: the book got ${JSON.stringify(qtys())}, its resume point ${client.lastId(BOOK)}, the held change ${held}`)
  })
  t.same(qtys(), ['1.00000000', '2.00000000', '3.00000000'], 'every value the flushes sent, the last the database\'s')
  t.equal(client.lastId(BOOK), held, 'the book resumes from its last value')
})
