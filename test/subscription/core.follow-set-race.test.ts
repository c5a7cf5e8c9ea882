import t from 'tap'
import { createAuthorizer } from '../../src/auth/authorizer.ts'
import type { Principal } from '../../src/auth/principal.ts'
import { escrowCatalog } from '../../src/catalogs/escrow/index.ts'
import { formatEventId } from '../../src/event-id.ts'
import { makeEvent, type StoredEvent } from '../../src/history/event.ts'
import { createHistoryStore } from '../../src/history/store.ts'
import { createHub } from '../../src/hub/hub.ts'
import { createSubscriptionCore, type SubscriberSink } from '../../src/subscription/core.ts'
import { createFollowSets, type FollowSets } from '../../src/subscription/follow-sets.ts'
import { createTestDatabase } from '../helpers/db.ts'
import { seedEscrow } from '../helpers/escrow-fixture.ts'
import { silentLogger } from '../helpers/log.ts'

// Deterministic: the core with the real follow sets on Postgres, the set's query held on a
// gate after the database answered. A party_left published meanwhile must not be undone
// by the stale answer (I15): the set is asked again.

const id = (lsn: number): string => formatEventId({ lsn: BigInt(lsn), seq: 0 })
const event = (lsn: number, type: string, escrowId: string, data: Record<string, unknown> = {}): StoredEvent =>
  makeEvent({ lsn: BigInt(lsn), seq: 0 }, { type, topics: [`escrow:${escrowId}`], data: { escrowId, ...data } }, new Date())

function recordingSink(calls: string[]): SubscriberSink {
  return {
    deliver: (e, topics) => { calls.push(`${e.type} ${String(e.data.escrowId)} ${topics.join(',')}`) },
    send: (events) => events.length,
    fits: () => true,
    drained: () => Promise.resolve(),
    closed: () => false,
    live: () => { calls.push('live') },
    reset: (topic, reason) => { calls.push(`reset ${topic} ${reason}`) },
    revoked: (topic) => { calls.push(`revoked ${topic}`) },
    failed: () => { calls.push('failed') },
    stalled: () => { calls.push('stalled') },
  }
}

t.test('I15: a party_left that lands while the follow set is asked of the database is not undone by the answer; a fence asks again', async (t) => {
  const tdb = await createTestDatabase(t)
  await seedEscrow(tdb, [[1, 'Ada', 'buyer']])
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (2, 'B', 1, 'EUR')`)
  const hub = createHub({ windowSize: 100 })
  const history = createHistoryStore(tdb.database.db)
  const authorizer = createAuthorizer(tdb.database.db, hub, escrowCatalog)
  t.teardown(() => authorizer.close())
  const real = createFollowSets(tdb.database.db, escrowCatalog)
  const answers: string[][] = []
  let gate: Promise<void> | undefined
  let openGate!: () => void
  let atGate!: () => void
  const reachedGate = new Promise<void>((resolve) => { atGate = resolve })
  gate = new Promise<void>((resolve) => { openGate = resolve })
  const follows: FollowSets = {
    ...real,
    async members(topic) {
      const members = await real.members(topic)
      answers.push(members)
      if (gate !== undefined) {
        atGate()
        await gate
        gate = undefined
      }
      return members
    },
  }
  const core = createSubscriptionCore({ hub, history, authorizer, follows, log: silentLogger(), pageSize: 100, drainLevel: 1 << 20, stallMs: 5000 })
  t.teardown(() => core.close())
  hub.goLive(id(0x1000), undefined)

  const calls: string[] = []
  const principal: Principal = { userId: '1', admin: false, exp: Math.floor(Date.now() / 1000) + 3600 }
  const sub = core.register(principal, ['user:1:escrows'], recordingSink(calls))
  const authorizing = core.authorize(sub)
  await reachedGate
  t.same(answers, [['escrow:1']], 'the database said: escrow 1')
  await tdb.query(`DELETE FROM escrow_parties WHERE escrow_id = 1 AND user_id = 1`)
  hub.publish([event(0x2000, 'escrow:party_left', '1', { userId: '1' })])
  openGate()
  t.equal(await authorizing, undefined, 'the user may read their own set')
  t.same(answers, [['escrow:1'], []], 'the answer raced a change of the set: asked again')
  await core.start(sub, undefined)
  hub.publish([event(0x3000, 'escrow:status_changed', '1', { to: 'funded' })])
  t.same(calls, ['live'], 'nothing of the escrow the user left')

  // A membership no event named (a change while no ingest streamed): the fence asks again.
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role) VALUES (2, 1, 'buyer')`)
  await hub.fence()
  hub.publish([event(0x4000, 'escrow:status_changed', '2', { to: 'funded' })])
  t.same(calls, ['live', 'escrow:status_changed 2 user:1:escrows'], 'after the fence the set holds escrow 2')

  // A grant adds before its own event, a revocation removes after its own.
  hub.publish([
    event(0x5000, 'escrow:party_joined', '1', { userId: '1', role: 'buyer' }),
    event(0x6000, 'escrow:party_left', '2', { userId: '1' }),
    event(0x7000, 'escrow:status_changed', '2', { to: 'completed' }),
    event(0x8000, 'escrow:party_joined', '1', { userId: '2', role: 'seller' }),
  ])
  t.same(calls.slice(2), [
    'escrow:party_joined 1 user:1:escrows',
    'escrow:party_left 2 user:1:escrows',
    'escrow:party_joined 1 user:1:escrows',
  ], 'the joined event and the left event are the set\'s; nothing of escrow 2 after it')
  t.same(sub.reads, new Set(['escrow:1']))
  t.same(core.topicsFor(sub, event(0x9000, 'escrow:status_changed', '1')), ['user:1:escrows'])
  core.end(sub)
})
