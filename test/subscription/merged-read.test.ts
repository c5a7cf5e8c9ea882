import t from 'tap'
import { formatEventId, type EventId } from '../../src/event-id.ts'
import { makeEvent, type StoredEvent } from '../../src/history/event.ts'
import type { HistoryStore } from '../../src/history/store.ts'
import { readMerged } from '../../src/subscription/merged-read.ts'

// Pure logic over an in-memory history: the real-Postgres path is covered by the SSE tests.
const ev = (lsn: number, topics: string[]): StoredEvent => makeEvent({ lsn: BigInt(lsn), seq: 0 }, { type: 't', topics, data: {} }, new Date(0))
const id = (lsn: number): string => formatEventId({ lsn: BigInt(lsn), seq: 0 })

function memoryHistory(events: StoredEvent[]): HistoryStore {
  return {
    async readSince(topic: string, after: EventId, limit: number) {
      const from = formatEventId(after)
      return events.filter((e) => e.topics.includes(topic) && e.id > from).slice(0, limit)
    },
    async readSinceEach(topics: readonly string[], after: EventId, limit: number) {
      return Promise.all(topics.map((topic) => this.readSince(topic, after, limit)))
    },
  } as Pick<HistoryStore, 'readSince' | 'readSinceEach'> as HistoryStore
}

t.test('I3: several topics merge in id order, each event once, and a page never skips what another topic\'s next page holds', async (t) => {
  // a: 1 2 3 4 5 6; b: 2 (also a) 10 11
  const history = memoryHistory([ev(1, ['a']), ev(2, ['a', 'b']), ev(3, ['a']), ev(4, ['a']), ev(5, ['a']), ev(6, ['a']), ev(10, ['b']), ev(11, ['b'])])
  const first = await readMerged(history, ['a', 'b'], id(0), 3)
  t.same(first.events.map((e) => e.id), [id(1), id(2), id(3)], 'a\'s full page bounds the merge at 3; b\'s 10 waits')
  t.equal(first.complete, false)
  const second = await readMerged(history, ['a', 'b'], id(3), 3)
  t.same(second.events.map((e) => e.id), [id(4), id(5), id(6)], 'bounded by a\'s page again; b\'s 10 and 11 are past it')
  t.equal(second.complete, false)
  const third = await readMerged(history, ['a', 'b'], id(6), 3)
  t.same(third.events.map((e) => e.id), [id(10), id(11)], 'short pages: everything left')
  t.equal(third.complete, true)
  const empty = await readMerged(history, ['a', 'b'], id(11), 3)
  t.same({ events: empty.events, complete: empty.complete }, { events: [], complete: true })
})
