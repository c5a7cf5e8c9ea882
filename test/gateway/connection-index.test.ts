/**
 * The gateway's connection index keeps a count per user (the per-user connection limit
 * is its only reader), not a set of connections: a set each was per-connection memory.
 * The count must follow every add and remove, a second remove of the same connection
 * included (a close after an end).
 */
import t from 'tap'
import { ConnectionIndex, type Connection } from '../../src/gateway/connection.ts'
import { TokenBucket } from '../../src/gateway/token-bucket.ts'

function connection(id: number, userId: string, topics: readonly string[] = []): Connection {
  return {
    id, principal: { userId, admin: false, exp: 0 }, ws: undefined, closed: false,
    subscriptions: new Map(topics.map((topic) => [topic, { topic, ref: undefined, state: 'live', cancelled: false, handle: undefined }])),
    bucket: new TokenBucket(1, 1, 1), expiry: undefined, drainWaiters: [], written: 0, oversize: 0,
    liveness: { heard: true, took: false, silentSweeps: 0 },
  }
}

t.test('counts each user\'s connections through adds and removes, twice-removed or not', async (t) => {
  const index = new ConnectionIndex()
  const [a1, a2, b1] = [connection(1, 'a'), connection(2, 'a'), connection(3, 'b')]
  index.add(a1)
  index.add(a2)
  index.add(b1)
  index.add(a1)
  t.same([index.countForUser('a'), index.countForUser('b'), index.countForUser('c')], [2, 1, 0], 'a connection added twice counts once')
  index.remove(a1)
  index.remove(a1)
  t.equal(index.countForUser('a'), 1, 'a second remove of the same connection does not take another one off')
  index.remove(a2)
  index.remove(b1)
  t.same([index.countForUser('a'), index.countForUser('b'), index.all.size], [0, 0, 0])
  index.add(a1)
  t.equal(index.countForUser('a'), 1, 'a user back after leaving counts from zero')
})

t.test('a removed connection leaves the topics it was live on', async (t) => {
  const index = new ConnectionIndex()
  const [a, b] = [connection(1, 'a', ['escrow:1', 'escrow:2']), connection(2, 'b', ['escrow:1'])]
  for (const conn of [a, b]) {
    index.add(conn)
    for (const topic of conn.subscriptions.keys()) index.attach(conn, topic)
  }
  index.remove(a)
  t.same([...index.forTopic('escrow:1')], [b])
  t.equal(index.forTopic('escrow:2').size, 0)
})
