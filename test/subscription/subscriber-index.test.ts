/**
 * The subscriber index keeps a user's only subscriber without a set (most users hold one;
 * a set each was per-connection memory) and turns to a set from the second: revocation
 * (I7) and follow-set changes find every subscriber of the user either way.
 */
import t from 'tap'
import type { Subscriber, SubscriberSink } from '../../src/subscription/core.ts'
import { createSubscriberIndex } from '../../src/subscription/subscriber-index.ts'

const sink = {} as SubscriberSink

function subscriber(userId: string): Subscriber {
  return { principal: { userId, admin: false, exp: 0 }, topics: new Set(['escrow:1']), reads: new Set(['escrow:1']), follows: new Map(), sink, state: 'live', gapPending: false }
}

t.test('I7: forUser finds one, two, then one subscriber of a user again', async (t) => {
  const index = createSubscriberIndex()
  const [a1, a2, a3, b] = [subscriber('a'), subscriber('a'), subscriber('a'), subscriber('b')]
  index.add(a1)
  index.add(a1)
  index.add(b)
  t.same(index.forUser('a'), [a1], 'the only one, added twice, found once')
  index.add(a2)
  index.add(a3)
  t.same(index.forUser('a'), [a1, a2, a3], 'the second and third join the first')
  index.remove(a1)
  index.remove(a3)
  t.same(index.forUser('a'), [a2])
  index.remove(a2)
  t.same(index.forUser('a'), [])
  index.remove(a2)
  t.same(index.forUser('b'), [b], 'another user untouched')
  index.add(a3)
  t.same(index.forUser('a'), [a3], 'back to a single subscriber after the set emptied')
  index.remove(b)
  t.same(index.forUser('b'), [], 'a single one removed')
  t.same(index.all(), [a3])
})

t.test('I7: a copy, so a revocation may end subscribers while the caller iterates', async (t) => {
  const index = createSubscriberIndex()
  const subs = [subscriber('a'), subscriber('a')]
  for (const sub of subs) index.add(sub)
  const seen = []
  for (const sub of index.forUser('a')) {
    index.remove(sub)
    seen.push(sub)
  }
  t.same(seen, subs)
  t.same(index.forUser('a'), [])
})
