import t from 'tap'
import { makeEvent, storedEventFromJson } from '../../src/history/event.ts'
import { approximateBytes, createHub, type HubSignal } from '../../src/hub/hub.ts'
import { formatEventId, gapMark } from '../../src/event-id.ts'

const event = (lsn: number, topic: string) => makeEvent({ lsn: BigInt(lsn), seq: 0 }, { type: 't', topics: [topic], data: { n: lsn } }, new Date(0))
const id = (lsn: number): string => formatEventId({ lsn: BigInt(lsn), seq: 0 })

t.test('the recent window proves completeness only for positions it still covers', async (t) => {
  const hub = createHub({ windowSize: 3 })
  t.equal(hub.recentSince(['a'], id(0)), undefined, 'before it goes live it proves nothing')
  hub.goLive(id(10), undefined)
  t.equal(hub.lastId(), id(10))
  t.same(hub.recentSince(['a'], id(10)), [], 'at the floor: nothing newer')
  const heard: string[][] = []
  hub.subscribe((events) => heard.push(events.map((e) => e.id)))
  hub.publish([event(11, 'a'), event(12, 'b')])
  hub.publish([])
  t.same(hub.recentSince(['a'], id(10))?.map((e) => e.id), [id(11)], 'only the topics asked for')
  t.same(hub.recentSince(['a', 'b'], id(10))?.map((e) => e.id), [id(11), id(12)], 'several topics merged in id order')
  hub.publish([event(13, 'a'), event(14, 'a')])
  // Window of 3: 12, 13, 14; 11 left it, so positions before 11 cannot be proven.
  t.equal(hub.recentSince(['a'], id(10)), undefined, 'a position older than the window: read the history')
  t.same(hub.recentSince(['a'], id(11))?.map((e) => e.id), [id(13), id(14)])
  t.same(hub.recentSince(['a'], id(14)), [])
  t.equal(hub.lastId(), id(14))
  t.same(heard, [[id(11), id(12)], [id(13), id(14)]], 'listeners get every batch once, empty ones never')
  t.throws(() => hub.publish([event(14, 'a')]), /out of order/, 'ids must increase')
})

t.test('I8: a listener that throws is logged and the others still get the batch', async (t) => {
  const errors: unknown[] = []
  const hub = createHub({ windowSize: 10, log: { error: (obj) => errors.push(obj) } })
  hub.goLive(id(1), undefined)
  const first: string[] = []
  const last: string[] = []
  hub.subscribe((events) => first.push(...events.map((e) => e.id)))
  hub.subscribe(() => { throw new Error('listener bug') })
  hub.subscribe((events) => last.push(...events.map((e) => e.id)))
  t.doesNotThrow(() => hub.publish([event(2, 'a')]), 'the publisher never sees a listener failure')
  hub.publish([event(3, 'a')])
  t.same(first, [id(2), id(3)])
  t.same(last, [id(2), id(3)], 'the listener after the failing one got both batches')
  t.equal(hub.lastId(), id(3), 'the batch counts as published')
  t.equal(errors.length, 2, 'each failure was logged')
})

t.test('I5: only a live hub publishes or proves anything; going live again restarts the window at the head', async (t) => {
  const hub = createHub({ windowSize: 10 })
  const signals: HubSignal[] = []
  hub.onSignal((s) => signals.push(s))
  t.notOk(hub.isLive())
  let woke = false
  const waiting = hub.whenLive().then(() => { woke = true })
  t.throws(() => hub.publish([event(1, 'a')]), /not live/, 'nothing is published before an ingest streams')
  hub.goLive(id(5), undefined)
  await waiting
  t.ok(woke && hub.isLive(), 'waiters wake when it goes live')
  hub.publish([event(6, 'a')])
  hub.pause()
  hub.pause()
  t.notOk(hub.isLive())
  t.equal(hub.recentSince(['a'], id(5)), undefined, 'a paused hub proves nothing: the history answers')
  // Another instance streamed meanwhile: the history's head is 9.
  hub.goLive(id(9), undefined)
  t.same(hub.recentSince(['a'], id(6)), undefined, 'events 7..9 never passed through: the window starts at 9')
  t.same(hub.recentSince(['a'], id(9)), [])
  t.equal(hub.lastId(), id(9))
  hub.pause()
  hub.goLive(id(9), undefined)
  t.same(signals.map((s) => s.kind), ['live', 'paused', 'resync', 'live', 'paused', 'live'], 'resync only when the head moved')
  t.same(signals[2], { kind: 'resync', from: id(6), head: id(9) })
})

t.test('I6: a gap recorded while not live, or while streaming, is signalled once', async (t) => {
  const hub = createHub({ windowSize: 10 })
  const signals: HubSignal[] = []
  hub.onSignal((s) => { if (s.kind === 'gap') signals.push(s) })
  hub.gap('before anything', 1n)
  hub.goLive(id(5), 100n)
  t.same(signals, [], 'the first time live there is no one to tell: resumes check the history')
  hub.pause()
  hub.goLive(id(5), 100n)
  t.same(signals, [], 'the same gap again is not news')
  hub.pause()
  hub.goLive(id(7), 200n)
  t.same(signals, [{ kind: 'gap', head: gapMark(200n), reason: 'gap_recorded' }], 'a newer gap wins over a resync; its head is the gap\'s mark')
  t.equal(hub.lastId(), id(7), 'the newest published id is still the newest event')
  hub.gap('truncate', 300n)
  t.same(signals[1], { kind: 'gap', head: gapMark(300n), reason: 'truncate' })
  t.equal(hub.head(), gapMark(300n), 'subscriptions stand at the mark: past every event before the gap, before every one after')
  hub.publish([event(400, 'a')])
  t.equal(hub.head(), id(400), 'the first event after the gap moves the head past the mark')
  hub.pause()
  hub.goLive(id(7), 300n)
  t.equal(signals.length, 2, 'a gap signalled while streaming is not signalled again')
})

t.test('the window finds the events after a position wherever the ring wrapped', async (t) => {
  const hub = createHub({ windowSize: 7 })
  hub.goLive(id(100), undefined)
  for (let n = 101; n <= 120; n++) hub.publish([event(n, n % 2 === 0 ? 'a' : 'b')])
  // Window: 114..120 (the ring wrapped twice); its floor is 113.
  t.equal(hub.recentSince(['a'], id(112)), undefined, 'below the floor')
  t.same(hub.recentSince(['a'], id(113))?.map((e) => e.id), [id(114), id(116), id(118), id(120)])
  t.same(hub.recentSince(['b'], id(116))?.map((e) => e.id), [id(117), id(119)])
  t.same(hub.recentSince(['a', 'b'], id(118))?.map((e) => e.id), [id(119), id(120)])
  t.same(hub.recentSince(['a'], formatEventId({ lsn: 117n, seq: 5 }))?.map((e) => e.id), [id(118), id(120)], 'a position between two ids')
  t.same(hub.recentSince(['a'], id(120)), [], 'at the newest: nothing')
})

t.test('I4: the hub tells the resume rule the newest gap only for positions its window covers', async (t) => {
  const hub = createHub({ windowSize: 3 })
  t.equal(hub.resumeFacts(id(5)), undefined, 'never live: the history answers')
  hub.goLive(id(10), 50n)
  t.same(hub.resumeFacts(id(10)), { gapEnd: 50n }, 'the gap it went live with')
  t.equal(hub.resumeFacts(id(9)), undefined, 'before the window: the history answers')
  hub.publish([event(11, 'a'), event(12, 'a'), event(13, 'a'), event(14, 'a')])
  t.equal(hub.resumeFacts(id(10)), undefined, 'an event after it left the window')
  t.same(hub.resumeFacts(id(11)), { gapEnd: 50n })
  hub.gap('truncate', 80n)
  t.same(hub.resumeFacts(id(12)), { gapEnd: 80n }, 'a gap recorded while streaming is known at once')
  hub.pause()
  t.equal(hub.resumeFacts(id(14)), undefined, 'a paused hub proves nothing')
})

t.test('the window is bounded by bytes as well as count; positions it no longer covers read the history', async (t) => {
  const big = (lsn: number, topic: string, size: number) => makeEvent({ lsn: BigInt(lsn), seq: 0 }, { type: 't', topics: [topic], data: { text: 'x'.repeat(size) } }, new Date(0))
  const one = approximateBytes(big(1, 'a', 1000))
  t.ok(one >= 1000 && one < 1300, `an event of 1,000 payload bytes counts ${one}`)
  const hub = createHub({ windowSize: 100, windowBytes: one * 3 })
  hub.goLive(id(0), undefined)
  hub.publish([big(1, 'a', 1000), big(2, 'b', 1000), big(3, 'a', 1000), big(4, 'a', 1000), big(5, 'b', 1000)])
  t.same(hub.window(), { events: 3, bytes: one * 3 }, 'three fit; the count bound (100) is far away')
  t.equal(hub.recentSince(['a'], id(1)), undefined, 'event 2 left: a position before it reads the history')
  t.same(hub.recentSince(['a', 'b'], id(2))?.map((e) => e.id), [id(3), id(4), id(5)], 'from the floor on, the window answers')
  t.same(hub.recentSince(['a', 'b'], id(2), 2)?.map((e) => e.id), [id(3), id(4)], 'at most `limit` events')
  t.same(hub.recentSince(['a'], id(3))?.map((e) => e.id), [id(4)], 'a position inside it starts after it')

  hub.publish([big(6, 'a', 10_000)])
  t.same(hub.window(), { events: 0, bytes: 0 }, 'an event bigger than the whole window never enters it')
  t.equal(hub.recentSince(['a'], id(5)), undefined, 'so what it covers is the history\'s')
  t.same(hub.recentSince(['a'], id(6)), [], 'and after it the window answers again')
  hub.publish([big(7, 'a', 100)])
  t.same(hub.recentSince(['a'], id(6))?.map((e) => e.id), [id(7)])

  const counted = createHub({ windowSize: 2 })
  counted.goLive(id(0), undefined)
  counted.publish([event(1, 'a'), event(2, 'a'), event(3, 'a')])
  t.equal(counted.window().events, 2, 'without a byte bound the count alone bounds it')
  t.same(counted.recentSince(['a'], id(1))?.map((e) => e.id), [id(2), id(3)])
})

t.test('approximateBytes: payload text when the history handed it over, an estimate otherwise, never a serialization', async (t) => {
  const data = { a: 'hello', n: 12345, nested: { list: [1, 'two', null, true], deep: { x: 'y' } } }
  // An event without its payload text (as a bus follower may hold one) is estimated.
  const { dataJson: _text, ...live } = makeEvent({ lsn: 1n, seq: 0 }, { type: 't', topics: ['a', 'b'], data }, new Date(0))
  const json = JSON.stringify(data)
  const estimate = approximateBytes(live)
  t.ok(Math.abs(estimate - (json.length + 120 + 1 + 8)) < json.length, `estimate ${estimate} near ${json.length} + frame`)
  const stored = storedEventFromJson({ lsn: 1n, seq: 0 }, 't', ['a', 'b'], json, new Date(0).toISOString())
  t.equal(approximateBytes(stored), json.length + 8 + 1 + 120, 'the stored text counts exactly, plus the frame')
  let nested: Record<string, unknown> = { leaf: 'v' }
  for (let i = 0; i < 20; i++) nested = { child: nested }
  const { dataJson: _nestedText, ...deep } = makeEvent({ lsn: 2n, seq: 0 }, { type: 't', topics: ['a'], data: nested }, new Date(0))
  t.ok(approximateBytes(deep) < 1000, 'deep nesting costs a flat amount past a few levels')
})
