import t from 'tap'
import { formatEventId } from '../../src/event-id.ts'
import { newer, nextStep, type ChainCursor } from '../../src/bus/chain.ts'
import type { BusEntry } from '../../src/bus/entry.ts'
import { makeEvent } from '../../src/history/event.ts'

const id = (lsn: number): string => formatEventId({ lsn: BigInt(lsn), seq: 0 })
const ev = (lsn: number) => makeEvent({ lsn: BigInt(lsn), seq: 0 }, { type: 't', topics: ['a'], data: {} }, new Date(0))
const cursor = (over: Partial<ChainCursor> = {}): ChainCursor => ({ epoch: 'e1', n: 3, position: id(10), gapEnd: undefined, ...over })
const batch = (over: Partial<BusEntry> = {}): BusEntry => ({ kind: 'batch', epoch: 'e1', n: 4, prev: id(10), gapEnd: undefined, events: [ev(11)], ...over } as BusEntry)

t.test('I12: the next entry of the same run whose prev is the position applies', async (t) => {
  t.same(nextStep(cursor(), batch()), { kind: 'apply' })
})

t.test('I12: an entry already applied (a resent XADD) is a duplicate', async (t) => {
  t.same(nextStep(cursor(), batch({ n: 3 })), { kind: 'duplicate' })
  t.same(nextStep(cursor(), batch({ n: 1 })), { kind: 'duplicate' })
})

t.test('I12: a skipped entry number (an append lost while Redis was down) is a break, whatever its prev says', async (t) => {
  t.same(nextStep(cursor(), batch({ n: 5 })), { kind: 'break', reason: 'sequence' })
})

t.test('I12: an entry of another run that is not its first is a break; a new run starts at its live entry', async (t) => {
  t.same(nextStep(cursor(), batch({ epoch: 'e2', n: 2 })), { kind: 'break', reason: 'sequence' })
  const live: BusEntry = { kind: 'live', epoch: 'e2', n: 1, prev: id(50), head: id(50), gapEnd: undefined }
  t.same(nextStep(cursor(), live), { kind: 'apply' }, 'a live entry carries the head itself: the follower fills up to it')
})

t.test('I12: after attaching (no run yet) an entry applies when its prev is not past the position, else it is a break', async (t) => {
  const attached = cursor({ epoch: undefined, n: 0 })
  t.same(nextStep(attached, batch({ n: 17, prev: id(8) })), { kind: 'apply' }, 'overlapping what the history gave: the follower skips what it holds')
  t.same(nextStep(attached, batch({ n: 17, prev: id(12) })), { kind: 'break', reason: 'chain' }, 'events between 10 and 12 are missing')
})

t.test('I12: an entry announcing a gap the cursor never heard of is a break (the gap entry was lost)', async (t) => {
  t.same(nextStep(cursor({ gapEnd: 5n }), batch({ gapEnd: 9n })), { kind: 'break', reason: 'unseen_gap' })
  t.same(nextStep(cursor({ gapEnd: 9n }), batch({ gapEnd: 9n })), { kind: 'apply' })
  const gap: BusEntry = { kind: 'gap', epoch: 'e1', n: 4, prev: id(10), gapEnd: 12n, reason: 'truncate' }
  t.same(nextStep(cursor(), gap), { kind: 'apply' }, 'the gap entry itself brings the new end')
})

t.test('newer compares gap ends, undefined being no gap', async (t) => {
  t.equal(newer(undefined, undefined), false)
  t.equal(newer(1n, undefined), true)
  t.equal(newer(undefined, 1n), false)
  t.equal(newer(2n, 1n), true)
  t.equal(newer(1n, 1n), false)
})
