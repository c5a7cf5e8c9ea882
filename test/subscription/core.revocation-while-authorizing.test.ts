import { escrowCatalog } from '../../src/catalogs/escrow/index.ts'
import t from 'tap'
import { createAuthorizer, type Authorizer } from '../../src/auth/authorizer.ts'
import type { Principal } from '../../src/auth/principal.ts'
import { formatEventId } from '../../src/event-id.ts'
import { makeEvent, type StoredEvent } from '../../src/history/event.ts'
import { createHistoryStore } from '../../src/history/store.ts'
import { createHub } from '../../src/hub/hub.ts'
import { createSubscriptionCore, type SubscriberSink } from '../../src/subscription/core.ts'
import { createTestDatabase } from '../helpers/db.ts'
import { silentLogger } from '../helpers/log.ts'
import { seedEscrow, waitPublished } from '../helpers/escrow-fixture.ts'

// Deterministic: the core with a real history and the real authorizer on Postgres, its
// access check held on a gate after the database said yes. A party_left published while
// it waits must still end the subscription (I7): register() comes before the first await.

const id = (lsn: number): string => formatEventId({ lsn: BigInt(lsn), seq: 0 })
const event = (lsn: number, type: string, data: Record<string, unknown>): StoredEvent =>
  makeEvent({ lsn: BigInt(lsn), seq: 0 }, { type, topics: ['escrow:1'], data }, new Date())

/** An SSE-like sink (live events delivered to it directly) that records every call. */
function recordingSink(calls: string[]): SubscriberSink {
  return {
    deliver: (e, topics) => { calls.push(`deliver ${e.type} ${e.id} ${topics.join(',')}`) },
    send(events) {
      for (const e of events) calls.push(`send ${e.type} ${e.id}`)
      return events.length
    },
    fits: () => true,
    drained: () => Promise.resolve(),
    closed: () => false,
    live: (head) => { calls.push(`live ${head}`) },
    reset: (topic, reason) => { calls.push(`reset ${topic} ${reason}`) },
    revoked: (topic) => { calls.push(`revoked ${topic}`) },
    failed: () => { calls.push('failed') },
    stalled: () => { calls.push('stalled') },
  }
}

t.test('I7: a party_left published while a subscription is being authorized revokes it; nothing of the topic after it is delivered', async (t) => {
  const tdb = await createTestDatabase(t)
  await seedEscrow(tdb, [[1, 'Ada', 'buyer']])

  const hub = createHub({ windowSize: 100 })
  const history = createHistoryStore(tdb.database.db)
  const real = createAuthorizer(tdb.database.db, hub, escrowCatalog)
  t.teardown(() => real.close())
  // The real answer, then a wait on a gate the test opens.
  let atGate!: () => void
  const reachedGate = new Promise<void>((resolve) => { atGate = resolve })
  let openGate!: () => void
  const gate = new Promise<void>((resolve) => { openGate = resolve })
  const answers: boolean[] = []
  const gated: Authorizer = {
    ...real,
    async canRead(principal, topic) {
      const allowed = await real.canRead(principal, topic)
      answers.push(allowed)
      atGate()
      await gate
      return allowed
    },
  }
  const core = createSubscriptionCore({ hub, history, authorizer: gated, log: silentLogger(), pageSize: 100, drainLevel: 1 << 20, stallMs: 5000 })
  t.teardown(() => core.close())
  hub.goLive(id(0x1000), undefined)

  const calls: string[] = []
  const principal: Principal = { userId: '1', admin: false, exp: Math.floor(Date.now() / 1000) + 3600 }
  const sub = core.register(principal, ['escrow:1'], recordingSink(calls))
  const authorizing = core.authorize(sub)
  await reachedGate
  t.same(answers, [true], 'the database said yes: the user was a party when asked')

  // The party leaves while the answer is on its way back.
  await tdb.query(`DELETE FROM escrow_parties WHERE escrow_id = 1 AND user_id = 1`)
  const partyLeft = event(0x2000, 'escrow:party_left', { escrowId: '1', userId: '1' })
  hub.publish([partyLeft])
  openGate()
  t.equal(await authorizing, undefined, 'the access check itself answered allowed')
  await core.start(sub, undefined)
  const later = event(0x3000, 'escrow:status_changed', { escrowId: '1', from: 'draft', to: 'funded' })
  hub.publish([later])
  // The queued revocation sweep runs on a microtask: let it.
  await new Promise((resolve) => setImmediate(resolve))

  t.ok(calls.includes('revoked escrow:1'), `the subscription was revoked (calls: ${JSON.stringify(calls)})`)
  t.notOk(calls.some((c) => (c.startsWith('deliver') || c.startsWith('send')) && c.includes(later.id)), 'the event after the party_left was not delivered')
  t.notOk(calls.some((c) => c.startsWith('deliver') || c.startsWith('send')), 'nothing of the topic was delivered at all: it never went live with it')
  t.equal(calls.filter((c) => c === 'revoked escrow:1').length, 1, 'revoked once')
  t.notOk(calls.includes('failed'), 'no failure')
  t.equal(await core.canRead(principal, 'escrow:1'), false, 'and the authorizer now says no')
})

t.test('I7: an admin subscription being authorized is not revoked by the admin\'s own party_left', async (t) => {
  const tdb = await createTestDatabase(t)
  const hub = createHub({ windowSize: 100 })
  const history = createHistoryStore(tdb.database.db)
  const real = createAuthorizer(tdb.database.db, hub, escrowCatalog)
  t.teardown(() => real.close())
  let atGate!: () => void
  const reachedGate = new Promise<void>((resolve) => { atGate = resolve })
  let openGate!: () => void
  const gate = new Promise<void>((resolve) => { openGate = resolve })
  const gated: Authorizer = {
    ...real,
    async canRead(principal, topic) {
      const allowed = await real.canRead(principal, topic)
      atGate()
      await gate
      return allowed
    },
  }
  const core = createSubscriptionCore({ hub, history, authorizer: gated, log: silentLogger(), pageSize: 100, drainLevel: 1 << 20, stallMs: 5000 })
  t.teardown(() => core.close())
  hub.goLive(id(0x1000), undefined)

  const calls: string[] = []
  const sub = core.register({ userId: '99', admin: true, exp: Math.floor(Date.now() / 1000) + 3600 }, ['escrow:1'], recordingSink(calls))
  const authorizing = core.authorize(sub)
  await reachedGate
  hub.publish([event(0x2000, 'escrow:party_left', { escrowId: '1', userId: '99' })])
  openGate()
  t.equal(await authorizing, undefined)
  await core.start(sub, undefined)
  const later = event(0x3000, 'escrow:status_changed', { escrowId: '1', from: 'draft', to: 'funded' })
  hub.publish([later])
  await new Promise((resolve) => setImmediate(resolve))
  t.same(calls, [`live ${id(0x2000)}`, `deliver escrow:status_changed ${later.id} escrow:1`], 'live, then the later event: the admin role is never revoked')
})
