import t from 'tap'
import { checkCatalogShape } from '../../src/catalog/validate.ts'
import { conflationKey } from '../../src/catalog/conflation.ts'
import { tradingCatalog } from '../../src/catalogs/trading/index.ts'
import type { StoredEvent } from '../../src/history/event.ts'
import { createConflater } from '../../src/subscription/conflater.ts'
import { fakeClock } from '../helpers/fake-clock.ts'

const id = (n: number): string => `0000000000000001-${String(n).padStart(10, '0')}`
const level = (n: number, price: string, qty: string, topics: readonly string[] = ['orderbook:BTC']): StoredEvent =>
  ({ id: id(n), lsn: 1n, seq: n, topics, type: 'book:level', data: { side: 'bid', price, qty }, ts: '2026-12-02T00:00:00.000Z' })

function setup(everyMs = 100) {
  const clock = fakeClock()
  const flushes: StoredEvent[][] = []
  const conflater = createConflater({
    everyMs,
    keyFields: (topic) => (topic.startsWith('orderbook:') ? ['side', 'price'] : topic.startsWith('price:') ? ['asset'] : undefined),
    deliver: (events) => flushes.push([...events]),
    clock,
  })
  return { clock, flushes, conflater }
}

t.test('I17: a burst on one key within the interval is delivered once, as its latest value, on the trailing edge', async (t) => {
  const { clock, flushes, conflater } = setup()
  let before = id(0)
  const now: unknown[] = []
  for (let n = 1; n <= 1000; n++) {
    now.push(conflater.take(level(n, '100', String(n)), before))
    before = id(n)
  }
  t.ok(now.every((e) => e === undefined), 'nothing of a conflated-only event goes out at once')
  t.equal(conflater.heldAfter(), id(0), 'what is held is after the position before the first held event')
  clock.advance(0)
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(flushes.length, 1, 'the first flush comes at once after a quiet interval')
  t.same(flushes[0]!.map((e) => e.data.qty), ['1000'], 'one event: the latest')
  for (let n = 1001; n <= 1500; n++) conflater.take(level(n, '100', String(n)), id(n - 1))
  clock.advance(99)
  t.equal(flushes.length, 1, 'no second flush within the interval')
  clock.advance(1)
  t.same(flushes[1]!.map((e) => e.data.qty), ['1500'], 'the trailing value always arrives')
  t.equal(conflater.heldAfter(), undefined, 'nothing held after a flush')
  t.same(conflater.stats(), { taken: 1500, flushed: 2, superseded: 1498 })
  conflater.close()
})

t.test('I17: several keys flush together in id order; each key keeps its own latest', async (t) => {
  const { clock, flushes, conflater } = setup()
  conflater.take(level(1, '100', 'a'), id(0))
  clock.advance(0)
  await new Promise((resolve) => setImmediate(resolve))
  conflater.take(level(2, '101', 'x'), id(1))
  conflater.take(level(3, '100', 'b'), id(2))
  conflater.take(level(4, '101', 'y'), id(3))
  conflater.take(level(5, '102', 'z'), id(4))
  conflater.take({ ...level(6, '', ''), topics: ['price:BTC'], data: { asset: 'BTC', price: '7' } }, id(5))
  clock.advance(100)
  t.same(flushes[1]!.map((e) => [e.id, e.topics]), [[id(3), ['orderbook:BTC']], [id(4), ['orderbook:BTC']], [id(5), ['orderbook:BTC']], [id(6), ['price:BTC']]])
  t.ok(flushes[1]![0]!.id > flushes[0]!.at(-1)!.id, 'a flush never goes back before the previous one')
  conflater.close()
})

t.test('I17: an event on a conflated and a plain topic goes out at once on the plain one only', async (t) => {
  const { clock, flushes, conflater } = setup()
  const plain = { ...level(1, '1', '1'), topics: ['trades:BTC'] }
  t.equal(conflater.take(plain, id(0)), plain, 'an event of no conflated topic passes untouched')
  const both = level(2, '100', '5', ['audit:all', 'orderbook:BTC', 'orderbook:ALL'])
  const now = conflater.take(both, id(1))
  t.same(now?.topics, ['audit:all'], 'its plain topic now')
  t.equal(now?.id, both.id, 'with the same id')
  clock.advance(0)
  await new Promise((resolve) => setImmediate(resolve))
  t.same(flushes[0]!.map((e) => e.topics), [['orderbook:BTC', 'orderbook:ALL']], 'the conflated topics in one flush, the event once')
  conflater.take(level(3, '100', '5', ['orderbook:BTC', 'orderbook:ALL']), id(2))
  clock.advance(100)
  t.equal(flushes[1]![0]!.topics, flushes[1]![0]!.topics)
  t.same(flushes[1]![0]!.topics, ['orderbook:BTC', 'orderbook:ALL'], 'an event latest on every one of its topics keeps its own topics')
  conflater.take(level(4, '100', '6'), id(3))
  conflater.flush()
  t.same(flushes[2]!.map((e) => e.data.qty), ['6'], 'flush() delivers at once')
  conflater.close()
  conflater.take(level(5, '100', '7'), id(4))
  clock.advance(1000)
  t.equal(flushes.length, 3, 'a closed conflater schedules nothing')
})

t.test('the conflation key: fields in order, values JSON-quoted so no two keys collide', async (t) => {
  t.not(conflationKey(['a', 'b'], { a: 'x:y', b: 'z' }), conflationKey(['a', 'b'], { a: 'x', b: 'y:z' }))
  t.equal(conflationKey(['asset'], { asset: 'BTC' }), '"BTC"')
  t.equal(conflationKey(['a', 'b'], {}), conflationKey(['a', 'b'], { a: null, b: null }), 'a missing field is null')
})

t.test('I17: a catalog declares conflation it can keep; a wrong declaration is refused at start-up', async (t) => {
  t.doesNotThrow(() => checkCatalogShape(tradingCatalog, 'trading'))
  const withConflate = (conflate: unknown, access: object = {}) => ({ ...tradingCatalog, access: { ...tradingCatalog.access, ...access }, conflate })
  const refused = (conflate: unknown, pattern: RegExp, access: object = {}) => t.throws(() => checkCatalogShape(withConflate(conflate, access), 'x'), pattern)
  refused({ everyMs: 0, topics: {} }, /everyMs 0 is not a whole number of milliseconds from 1 to 60000/)
  refused({ everyMs: 100 }, /conflate is not/)
  refused({ everyMs: 100, topics: { 'book:{id}': { key: 'price' } } }, /conflated topic book:\{id\} has no access rule/)
  refused({ everyMs: 100, topics: { 'orderbook:{asset}': { key: 'side price' } } }, /key "side price" is not data field names/)
  refused({ everyMs: 100, topics: { 'orderbook:{asset}': {} } }, /key undefined/)
  const desk = { kind: 'membership', table: 'trading.desks', key: 'id', user: 'user_id', grantedBy: { event: 'desk:joined', key: 'a', user: 'b' }, revokedBy: { event: 'desk:left', key: 'a', user: 'b' } }
  const desks = (conflate: unknown, access: object) => ({ ...tradingCatalog, events: { ...tradingCatalog.events, 'desk:joined': { topics: ['desk:{id}'] }, 'desk:left': { topics: ['desk:{id}'] } }, access: { ...tradingCatalog.access, ...access }, conflate })
  t.throws(() => checkCatalogShape(desks({ everyMs: 100, topics: { 'desk:{id}': { key: 'a' } } }, { 'desk:{id}': desk, 'user:{id}:desks': { kind: 'follow', of: 'desk:{id}' } }), 'x'), /conflated topic desk:\{id\} is a follow set or a follow set's member/)
  t.throws(() => checkCatalogShape(desks({ everyMs: 100, topics: { 'user:{id}:desks': { key: 'a' } } }, { 'desk:{id}': desk, 'user:{id}:desks': { kind: 'follow', of: 'desk:{id}' } }), 'x'), /is a follow set/)
  t.throws(() => checkCatalogShape(desks({ everyMs: 100, topics: { 'desk:{id}': { key: 'a' } } }, { 'desk:{id}': desk }), 'x'), /conflated topic desk:\{id\} has a revoking event/)
  t.throws(() => checkCatalogShape({ ...tradingCatalog, access: { ...tradingCatalog.access, 'orderbook:{asset}': { kind: 'signedIn', id: 'hex' } } }, 'x'), /id "hex" is not one of/)
})

t.test('I17: while a flush is delivered, heldAfter still names the position before it (a subscription paced mid-flush catches up from there)', async (t) => {
  const clock = fakeClock()
  const seen: (string | undefined)[] = []
  let conflater: ReturnType<typeof createConflater> | undefined
  conflater = createConflater({ everyMs: 100, keyFields: () => ['side', 'price'], deliver: () => { seen.push(conflater!.heldAfter()) }, clock })
  conflater.take(level(5, '100', '1'), id(4))
  conflater.take(level(6, '101', '1'), id(5))
  conflater.flush()
  t.same(seen, [id(4)], 'during delivery: before the flush\'s first event')
  t.equal(conflater.heldAfter(), undefined, 'after it: nothing held')
  conflater.close()
})

t.test('WALCAST_CONFLATE_INTERVAL overrides the catalog\'s interval, at most a minute', async (t) => {
  const { loadConfig } = await import('../../src/config.ts')
  const base = { DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db', WALCAST_JWT_SECRET: 'x'.repeat(32) }
  t.equal(loadConfig(base).hub.conflateMs, undefined, 'unset: the catalog interval')
  t.equal(loadConfig({ ...base, WALCAST_CONFLATE_INTERVAL: '250ms' }).hub.conflateMs, 250)
  t.throws(() => loadConfig({ ...base, WALCAST_CONFLATE_INTERVAL: '2m' }), /WALCAST_CONFLATE_INTERVAL.*must be at most 60s/)
})
