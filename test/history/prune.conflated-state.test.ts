import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { createHistoryStore } from '../../src/history/store.ts'
import { makeEvent, type StoredEvent } from '../../src/history/event.ts'
import { ZERO_ID } from '../../src/event-id.ts'
import { pruneHistory } from '../../src/history/prune.ts'
import { readLatestPerKey, syncLatestPerKey } from '../../src/history/latest-per-key.ts'
import { conflatedTopics } from '../../src/catalog/conflation.ts'
import { tradingCatalog } from '../../src/catalogs/trading/index.ts'

const OLD = new Date(Date.now() - 10 * 86_400_000)
const config = { retentionMs: 86_400_000, pruneBatch: 3, pruneIntervalMs: 60_000 }

// A conflated topic is a state, not a log: pruning the retention's old events must leave
// the latest event of each key, or a subscriber arriving later would be served a book
// with levels missing (the state "as far back as the history goes").
t.test('I17: pruning keeps the latest event of each key of a conflated topic, and prunes everything else past the retention', async (t) => {
  const tdb = await createTestDatabase(t)
  const db = tdb.database.db
  const conflated = conflatedTopics(tradingCatalog)
  t.same(conflated?.patterns.map((p) => p.fields), [['side', 'price'], ['asset']], 'the trading catalog keeps its book by side and price, its price by asset')
  await syncLatestPerKey(db, conflated)
  const history = createHistoryStore(db, conflated)
  let lsn = 0x1000n
  const events: StoredEvent[] = []
  const add = (type: string, topics: string[], data: Record<string, unknown>): StoredEvent => {
    const event = makeEvent({ lsn: lsn++, seq: 0 }, { type, topics, data }, OLD)
    events.push(event)
    return event
  }
  add('book:level', ['orderbook:BTC-USD'], { asset: 'BTC-USD', side: 'bid', price: '100', qty: '1' })
  add('book:level', ['orderbook:BTC-USD'], { asset: 'BTC-USD', side: 'ask', price: '101', qty: '2' })
  const bid100 = add('book:level', ['orderbook:BTC-USD'], { asset: 'BTC-USD', side: 'bid', price: '100', qty: '3' })
  const ask100 = add('book:level', ['orderbook:BTC-USD'], { asset: 'BTC-USD', side: 'ask', price: '100', qty: '4' })
  add('trade:executed', ['trades:BTC-USD'], { tradeId: '1', asset: 'BTC-USD', price: '100', qty: '1' })
  const ask101 = add('book:level', ['orderbook:BTC-USD'], { asset: 'BTC-USD', side: 'ask', price: '101', qty: '0' })
  add('price:updated', ['price:BTC-USD'], { asset: 'BTC-USD', price: '99' })
  const price = add('price:updated', ['price:BTC-USD'], { asset: 'BTC-USD', price: '100' })
  const eth = add('book:level', ['orderbook:ETH-USD'], { asset: 'ETH-USD', side: 'bid', price: '100', qty: '9' })
  add('order:update', ['user:1'], { orderId: '1' })
  add('balance:update', ['user:1'], { asset: 'USD' })
  await history.append(events)

  const result = await pruneHistory(db, config, new Date(), 1000)
  t.equal(result.deleted, events.length - 5, 'every log event and every superseded level or price is pruned')
  const left = await tdb.query<{ id: string }>(`SELECT lpad(to_hex((commit_lsn - '0/0')::bigint), 16, '0') || '-' || lpad(to_hex(seq), 8, '0') AS id FROM walcast.events ORDER BY commit_lsn, seq`)
  t.same(left.rows.map((r) => r.id), [bid100.id, ask100.id, ask101.id, price.id, eth.id], 'the latest of each key stays, on each asset\'s book')
  const book = await readLatestPerKey(db, 'orderbook:BTC-USD', ZERO_ID, 100)
  t.same(book.map((e) => e.id), [bid100.id, ask100.id, ask101.id], 'a fresh subscriber is served the whole book')
  t.ok(await history.horizon(), 'the horizon moved: a resume from before it is reset (I4)')

  const again = await pruneHistory(db, config, new Date(), 1000)
  t.equal(again.deleted, 0, 'a second run keeps them too')
  t.same(await syncLatestPerKey(db, undefined), { built: [], dropped: ['orderbook:{asset}', 'price:{asset}'] }, 'a catalog that no longer conflates them drops their state')
  const plain = await pruneHistory(db, config, new Date(), 1000)
  t.equal(plain.deleted, 5, 'without conflated topics, retention alone decides')
})
