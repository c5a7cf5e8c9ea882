import t from 'tap'
import { formatEventId, type EventId } from '../../src/event-id.ts'
import { makeEvent, type StoredEvent } from '../../src/history/event.ts'
import type { HistoryStore } from '../../src/history/store.ts'
import { createHub } from '../../src/hub/hub.ts'
import { replayThenGoLive, type ReplayTarget } from '../../src/subscription/replay.ts'

// The replay loop over an in-memory history (the Postgres path is covered by the gateway
// and SSE replay tests): what a full buffer leaves of a page waits for the drain, and is
// dropped when the subscription's topics shrink meanwhile.
const ev = (lsn: number, topics: string[]): StoredEvent => makeEvent({ lsn: BigInt(lsn), seq: 0 }, { type: 't', topics, data: { n: lsn } }, new Date(0))
const id = (lsn: number): string => formatEventId({ lsn: BigInt(lsn), seq: 0 })

function memoryHistory(events: StoredEvent[], reads: string[][]): HistoryStore {
  const readSince = async (topic: string, after: EventId, limit: number): Promise<StoredEvent[]> => {
    const from = formatEventId(after)
    return events.filter((e) => e.topics.includes(topic) && e.id > from).slice(0, limit)
  }
  return {
    readSince,
    async readSinceEach(topics: readonly string[], after: EventId, limit: number) {
      reads.push([...topics])
      return Promise.all(topics.map((topic) => readSince(topic, after, limit)))
    },
    horizon: async () => undefined,
    lastGapEnd: async () => undefined,
  } as Pick<HistoryStore, 'readSince' | 'readSinceEach' | 'horizon' | 'lastGapEnd'> as HistoryStore
}

/** A client on topic a whose buffer takes every batch whole. */
function takesAll(sent: StoredEvent[]): ReplayTarget {
  return {
    topics: () => ['a'],
    stopped: () => false,
    send(batch) { sent.push(...batch); return batch.length },
    fits: () => true,
    drained: () => Promise.resolve(),
  }
}

t.test('I7: a revocation while the rest of a page waits for the drain: nothing of the revoked topic is written after it', async (t) => {
  // Odd positions are topic a's, even ones b's.
  const events = Array.from({ length: 40 }, (_, i) => ev(i + 1, [(i + 1) % 2 === 1 ? 'a' : 'b']))
  const reads: string[][] = []
  const history = memoryHistory(events, reads)
  const hub = createHub({ windowSize: 5 })
  hub.goLive(id(40), undefined)
  let topics = ['a', 'b']
  const sent: StoredEvent[] = []
  let quota = 4
  let release: (() => void) | undefined
  const target: ReplayTarget = {
    topics: () => topics,
    stopped: () => false,
    // The first write fills the buffer after 4 events; every later one takes all.
    send(batch) {
      const n = Math.min(quota, batch.length)
      sent.push(...batch.slice(0, n))
      quota = Infinity
      return n
    },
    fits: () => true,
    drained: () => (release === undefined && sent.length === 4 ? new Promise<void>((resolve) => { release = resolve }) : Promise.resolve()),
  }
  let live = false
  const outcome = replayThenGoLive({ hub, history, pageSize: 10, drainLevel: 1, stallMs: 10_000 }, target, id(0), () => { live = true })
  for (let i = 0; i < 200 && release === undefined; i++) await new Promise((resolve) => setTimeout(resolve, 5))
  t.ok(release !== undefined, 'the replay waits for the client with the rest of its page in hand')
  t.same(sent.map((e) => e.id), [id(1), id(2), id(3), id(4)], 'the first 4 events of the page were written')
  topics = ['a']
  release!()
  t.same(await outcome, { kind: 'live' })
  t.ok(live, 'then live')
  const after = sent.slice(4)
  t.ok(after.every((e) => e.topics.includes('a')), 'nothing of b after the revocation')
  t.same(after.map((e) => e.id), events.filter((e) => e.topics.includes('a') && e.id > id(4)).map((e) => e.id), 'every event of a after the cut, once, in order')
  t.ok(reads.length >= 1 && reads[0]!.length === 2, 'the first page was read for both topics')
})

t.test('I3: while the replay waits for a page, the page after it is read before the resume rule answers for the first; every event once, in order', async (t) => {
  const events = Array.from({ length: 35 }, (_, i) => ev(i + 1, ['a']))
  const log: string[] = []
  const base = memoryHistory(events, [])
  // The resume rule's reads answer only when released: Postgres is busy with them.
  const held: Array<() => void> = []
  const history = {
    ...base,
    readSince: async (topic: string, after: EventId, limit: number) => {
      log.push(`read ${formatEventId(after)}`)
      return base.readSince(topic, after, limit)
    },
    horizon: () => new Promise<undefined>((resolve) => { log.push('rule'); held.push(() => resolve(undefined)) }),
  } as HistoryStore
  const hub = createHub({ windowSize: 5 })
  hub.goLive(id(35), undefined)
  const sent: StoredEvent[] = []
  const target = takesAll(sent)
  let live = false
  const outcome = replayThenGoLive({ hub, history, pageSize: 10, drainLevel: 1, stallMs: 10_000 }, target, id(0), () => { live = true })
  const until = async (what: () => boolean): Promise<void> => { for (let i = 0; i < 200 && !what(); i++) await new Promise((resolve) => setTimeout(resolve, 5)) }
  await until(() => log.length >= 3)
  t.same(log.slice(0, 3), [`read ${id(0)}`, 'rule', `read ${id(10)}`], 'the second page is being read while the first one\'s resume rule is still asked')
  t.same(sent, [], 'nothing is written before the rule answered')
  // Release the rule's reads as they come until the replay ends.
  const releasing = setInterval(() => { while (held.length > 0) held.shift()!() }, 2)
  t.same(await outcome, { kind: 'live' })
  clearInterval(releasing)
  t.ok(live, 'then live')
  t.same(sent.map((e) => e.id), events.map((e) => e.id), 'every event once, in order')
  t.ok(log.filter((entry) => entry.startsWith('read')).length <= 5, 'each page read once (the last two come from the window)')
})

t.test('I4: a prune found by the rule of the awaited page resets the replay; the page read ahead meanwhile is never written', async (t) => {
  const events = Array.from({ length: 30 }, (_, i) => ev(i + 1, ['a']))
  const base = memoryHistory(events, [])
  const reads: string[] = []
  let rules = 0
  const history = {
    ...base,
    readSince: async (topic: string, after: EventId, limit: number) => {
      reads.push(formatEventId(after))
      return base.readSince(topic, after, limit)
    },
    // The first page proves complete; by the second page's rule the pruner has passed id 15.
    horizon: async () => {
      const n = ++rules
      if (n === 1) await new Promise((resolve) => setTimeout(resolve, 20))
      return n === 1 ? undefined : { lsn: 15n, seq: 0 }
    },
  } as HistoryStore
  const hub = createHub({ windowSize: 5 })
  hub.goLive(id(30), undefined)
  const sent: StoredEvent[] = []
  const target = takesAll(sent)
  const outcome = await replayThenGoLive({ hub, history, pageSize: 10, drainLevel: 1, stallMs: 10_000 }, target, id(0), () => t.fail('must not go live'))
  t.same(outcome, { kind: 'reset', reason: 'history_gone' })
  t.ok(reads.includes(id(10)), 'the second page was read ahead while the first one\'s rule was asked')
  t.same(sent.map((e) => e.id), events.slice(0, 10).map((e) => e.id), 'only the first, proven page was written')
})
