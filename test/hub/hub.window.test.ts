import t from 'tap'
import { makeEvent } from '../../src/history/event.ts'
import { createHub } from '../../src/hub/hub.ts'
import { formatEventId } from '../../src/event-id.ts'

const event = (lsn: number, topic: string) => makeEvent({ lsn: BigInt(lsn), seq: 0 }, { type: 't', topics: [topic], data: { n: lsn } }, new Date(0))
const id = (lsn: number): string => formatEventId({ lsn: BigInt(lsn), seq: 0 })

t.test('the recent window proves completeness only for positions it still covers', async (t) => {
  const hub = createHub({ windowSize: 3 })
  t.equal(hub.recentSince('a', id(0)), undefined, 'before a floor is set it proves nothing')
  hub.setFloor(id(10))
  t.equal(hub.lastId(), id(10))
  t.same(hub.recentSince('a', id(10)), [], 'at the floor: nothing newer')
  const heard: string[][] = []
  hub.subscribe((events) => heard.push(events.map((e) => e.id)))
  hub.publish([event(11, 'a'), event(12, 'b')])
  hub.publish([])
  t.same(hub.recentSince('a', id(10))?.map((e) => e.id), [id(11)], 'only the topic asked for')
  hub.publish([event(13, 'a'), event(14, 'a')])
  // Window of 3: 12, 13, 14; 11 left it, so positions before 11 cannot be proven.
  t.equal(hub.recentSince('a', id(10)), undefined, 'a position older than the window: read the history')
  t.same(hub.recentSince('a', id(11))?.map((e) => e.id), [id(13), id(14)])
  t.same(hub.recentSince('a', id(14)), [])
  t.equal(hub.lastId(), id(14))
  t.same(heard, [[id(11), id(12)], [id(13), id(14)]], 'listeners get every batch once, empty ones never')
  t.throws(() => hub.publish([event(14, 'a')]), /out of order/, 'ids must increase')
  t.throws(() => hub.setFloor(id(20)), /after events were published/)
})
