import { escrowCatalog } from '../../src/catalogs/escrow/index.ts'
import t, { type Test } from 'tap'
import { createAuthorizer, type Authorizer, type Revocation } from '../../src/auth/authorizer.ts'
import type { Principal } from '../../src/auth/principal.ts'
import { partiesMapper } from '../../src/catalogs/escrow/parties.ts'
import type { Row, RowChange } from '../../src/catalog/row-change.ts'
import { makeEvent } from '../../src/history/event.ts'
import { createHub, type Hub } from '../../src/hub/hub.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts'

const user = (userId: string, admin = false): Principal => ({ userId, admin, exp: Number.MAX_SAFE_INTEGER })

interface Setup {
  tdb: TestDatabase
  hub: Hub
  authorizer: Authorizer
  revocations: Revocation[]
  /** Runs `statement` (an UPDATE of the party row (100, 1)) and publishes what the catalog maps from it. */
  change(statement: string): Promise<string[]>
}

// Escrows 100 and 200; users 1..3; user 1 a party of 100, user 3 (an admin) too.
async function setup(t: Test): Promise<Setup> {
  const tdb = await createTestDatabase(t)
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'A'), (2, 'B'), (3, 'Admin')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (100, 'One', 1, 'EUR'), (200, 'Two', 1, 'EUR')`)
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role, accepted_at) VALUES (100, 1, 'buyer', now()), (100, 3, 'arbiter', now())`)
  const hub = createHub({ windowSize: 100 })
  const authorizer = createAuthorizer(tdb.database.db, hub, escrowCatalog)
  t.teardown(() => authorizer.close())
  hub.goLive('0000000000000000-00000000', undefined)
  const revocations: Revocation[] = []
  authorizer.onRevoke((revocation) => revocations.push(revocation))
  let lsn = 0n
  return {
    tdb, hub, authorizer, revocations,
    async change(statement) {
      // The old and new row of one UPDATE, as REPLICA IDENTITY FULL sends them.
      const rows = await tdb.query<{ old: Row; new: Row }>(`
        WITH old AS (SELECT * FROM escrow_parties WHERE escrow_id = 100 AND user_id = 1 FOR UPDATE),
             new AS (${statement} RETURNING *)
        SELECT (SELECT row_to_json(old) FROM old) AS old, (SELECT row_to_json(new) FROM new) AS new`)
      const row = rows.rows[0]!
      const change: RowChange = { kind: 'update', table: 'public.escrow_parties', old: ids(row.old), new: ids(row.new) }
      lsn++
      const events = partiesMapper.map(change).map((draft, seq) => makeEvent({ lsn, seq }, draft, new Date()))
      hub.publish(events)
      return events.map((e) => `${e.type} ${e.topics.join(',')} ${String(e.data.userId)}`)
    },
  }
}

// row_to_json turns int8 into a number; pgoutput hands it over as text.
const ids = (row: Row): Row => ({ ...row, escrow_id: String(row.escrow_id), user_id: String(row.user_id) })

t.test('I7: an UPDATE that moves a party to another escrow revokes the old escrow at once', async (t) => {
  const { authorizer, revocations, change } = await setup(t)
  t.ok(await authorizer.canRead(user('1'), 'escrow:100'), 'a party reads its escrow')
  const hits = authorizer.stats().cacheHits
  t.ok(await authorizer.canRead(user('1'), 'escrow:100'))
  t.equal(authorizer.stats().cacheHits, hits + 1, 'and the membership is now cached')

  const published = await change(`UPDATE escrow_parties SET escrow_id = 200 WHERE escrow_id = 100 AND user_id = 1`)
  t.same(published, ['escrow:party_left escrow:100 1', 'escrow:party_joined escrow:200 1'], 'leave of the old key, then join of the new one')
  t.same(revocations.map((r) => [r.userId, r.topic]), [['1', 'escrow:100']], 'live subscriptions to the old escrow are revoked')
  const queries = authorizer.stats().membershipQueries
  t.notOk(await authorizer.canRead(user('1'), 'escrow:100'), 'the cached "yes" is gone')
  t.equal(authorizer.stats().membershipQueries, queries + 1, 'the answer came from the database')
  t.ok(await authorizer.canRead(user('1'), 'escrow:200'), 'the new escrow is readable')
})

t.test('I7: an UPDATE that hands the party row to another user revokes the old user', async (t) => {
  const { authorizer, revocations, change } = await setup(t)
  t.ok(await authorizer.canRead(user('1'), 'escrow:100'))
  t.notOk(await authorizer.canRead(user('2'), 'escrow:100'))
  const published = await change(`UPDATE escrow_parties SET user_id = 2, accepted_at = NULL WHERE escrow_id = 100 AND user_id = 1`)
  t.same(published, ['escrow:party_left escrow:100 1'], 'the new key is only invited: no join yet')
  t.same(revocations.map((r) => [r.userId, r.topic]), [['1', 'escrow:100']])
  t.notOk(await authorizer.canRead(user('1'), 'escrow:100'), 'the old user is out')
  t.ok(await authorizer.canRead(user('2'), 'escrow:100'), 'the new one is a party (the row exists)')
})

t.test('I7: a party_left never revokes an admin, even an admin who was the party', async (t) => {
  const { tdb, hub, authorizer, revocations } = await setup(t)
  await tdb.query(`DELETE FROM escrow_parties WHERE escrow_id = 100 AND user_id = 3`)
  hub.publish([makeEvent({ lsn: 1n, seq: 0 }, { type: 'escrow:party_left', topics: ['escrow:100'], data: { escrowId: '100', userId: '3' } }, new Date())])
  t.equal(revocations.length, 1)
  const revocation = revocations[0]!
  t.same(revocation, { userId: '3', topic: 'escrow:100', eventId: '0000000000000001-00000000' })
  t.equal(authorizer.revokes(user('3', true), revocation), false, 'the admin keeps its escrow subscription')
  t.equal(authorizer.revokes(user('3'), revocation), true, 'the same user without the admin role loses it')
  t.ok(await authorizer.canRead(user('3', true), 'escrow:100'), 'and the admin may still subscribe')
  t.notOk(await authorizer.canRead(user('3'), 'escrow:100'))
  t.equal(authorizer.revokes(user('3', true), { userId: '3', topic: 'admin:disputes', eventId: revocation.eventId }), true,
    'only escrow topics are every admin\'s by role')
})

t.test('I7: a gap (TRUNCATE of escrow_parties) clears every cached membership', async (t) => {
  const { tdb, hub, authorizer } = await setup(t)
  t.ok(await authorizer.canRead(user('1'), 'escrow:100'))
  t.ok(await authorizer.canRead(user('3'), 'escrow:100'))
  await tdb.query(`TRUNCATE escrow_parties`)
  const hits = authorizer.stats().cacheHits
  t.ok(await authorizer.canRead(user('1'), 'escrow:100'), 'before the gap is signalled, the cache still answers (a TRUNCATE names no rows)')
  t.equal(authorizer.stats().cacheHits, hits + 1)
  hub.gap('truncate', 1n)
  const queries = authorizer.stats().membershipQueries
  t.notOk(await authorizer.canRead(user('1'), 'escrow:100'), 'after it, the database answers')
  t.notOk(await authorizer.canRead(user('3'), 'escrow:100'), 'for every cached entry')
  t.equal(authorizer.stats().membershipQueries, queries + 2)
  t.equal(authorizer.stats().cacheHits, hits + 1, 'no cache hit after the gap')
})

t.test('I7: a lookup in flight when a gap arrives asks again', async (t) => {
  const { hub, authorizer } = await setup(t)
  const queries = authorizer.stats().membershipQueries
  const answer = authorizer.canRead(user('1'), 'escrow:100')
  // The query is on its way to Postgres; the gap lands before its answer does.
  hub.gap('truncate', 1n)
  t.ok(await answer)
  t.equal(authorizer.stats().membershipQueries, queries + 2, 'the answer read before the gap was not trusted')
})

t.test('I7: while the hub is not live no membership is cached; a resync clears the cache', async (t) => {
  const { hub, authorizer } = await setup(t)
  t.ok(await authorizer.canRead(user('1'), 'escrow:100'))
  hub.pause()
  let queries = authorizer.stats().membershipQueries
  t.ok(await authorizer.canRead(user('1'), 'escrow:100'))
  t.ok(await authorizer.canRead(user('1'), 'escrow:100'))
  t.equal(authorizer.stats().membershipQueries, queries + 2, 'paused: no party_left can arrive, so each answer asks the database')
  // Another instance streamed meanwhile: events after what this hub published passed it by.
  hub.goLive('0000000000000009-00000000', undefined)
  queries = authorizer.stats().membershipQueries
  t.ok(await authorizer.canRead(user('1'), 'escrow:100'))
  t.ok(await authorizer.canRead(user('1'), 'escrow:100'))
  t.equal(authorizer.stats().membershipQueries, queries + 1, 'live again: cached once more')
  hub.goLive('0000000000000010-00000000', undefined)
  queries = authorizer.stats().membershipQueries
  t.ok(await authorizer.canRead(user('1'), 'escrow:100'))
  t.equal(authorizer.stats().membershipQueries, queries + 1, 'a resync dropped the cached entry')
})

t.test('close() stops listening to the hub', async (t) => {
  const { hub, authorizer, revocations } = await setup(t)
  t.ok(await authorizer.canRead(user('1'), 'escrow:100'))
  authorizer.close()
  hub.gap('truncate', 1n)
  hub.publish([makeEvent({ lsn: 1n, seq: 0 }, { type: 'escrow:party_left', topics: ['escrow:100'], data: { escrowId: '100', userId: '1' } }, new Date())])
  t.equal(revocations.length, 0, 'no revocation after close')
  t.equal(authorizer.stats().revocations, 0)
  const hits = authorizer.stats().cacheHits
  t.ok(await authorizer.canRead(user('1'), 'escrow:100'))
  t.equal(authorizer.stats().cacheHits, hits + 1, 'neither the gap nor the party_left reached the closed authorizer')
})
