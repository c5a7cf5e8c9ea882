import { escrowCatalog } from '../../src/catalogs/escrow/index.ts'
import t from 'tap'
import { createAuthorizer } from '../../src/auth/authorizer.ts'
import type { Principal } from '../../src/auth/principal.ts'
import { createHub } from '../../src/hub/hub.ts'
import { createTestDatabase } from '../helpers/db.ts'

const INT8_MAX = '9223372036854775807'
const user = (userId: string, admin = false): Principal => ({ userId, admin, exp: Number.MAX_SAFE_INTEGER })

// Strings that start like an escrow topic but name none: no event is ever published under them.
const NOT_ESCROW_TOPICS = [
  'escrow:', 'escrow:1 OR 1=1', 'escrow:../x', 'escrow:-1', 'escrow:0', 'escrow:01', 'escrow:+1', 'escrow:1.0',
  'escrow:1e3', 'escrow: 1', 'escrow:1 ', 'escrow:1\n', 'escrow:0x10', 'escrow:\uff11', 'escrow:abc',
  'escrow:9223372036854775808', 'escrow:99999999999999999999', 'escrow:100/2', 'escrow:100:1',
]

t.test('I10: topics are exact names', async (t) => {
  const tdb = await createTestDatabase(t)
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'Party'), (2, 'Outsider'), (${INT8_MAX}, 'Last')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (100, 'Shared', 1, 'EUR'), (200, 'Foreign', 1, 'EUR'), (${INT8_MAX}, 'Last', 1, 'EUR')`)
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role) VALUES (100, 1, 'buyer'), (200, 2, 'buyer'), (${INT8_MAX}, ${INT8_MAX}, 'buyer')`)
  const hub = createHub({ windowSize: 100 })
  hub.goLive('0000000000000000-00000000', undefined)
  const authorizer = createAuthorizer(tdb.database.db, hub, escrowCatalog)
  t.teardown(() => authorizer.close())
  const admin = user('99', true)

  t.test('an admin reads every escrow, but only under its canonical id', async (t) => {
    for (const topic of ['escrow:100', 'escrow:424242', `escrow:${INT8_MAX}`, 'escrow:1']) {
      t.ok(await authorizer.canRead(admin, topic), `${topic} is a topic`)
    }
    const queries = authorizer.stats().membershipQueries
    for (const topic of NOT_ESCROW_TOPICS) {
      t.notOk(await authorizer.canRead(admin, topic), `${JSON.stringify(topic)} is refused`)
    }
    t.equal(authorizer.stats().membershipQueries, queries, 'admins never need the lookup')
  })

  t.test('a party reads its escrow up to the largest int8 id, under its canonical id only', async (t) => {
    t.ok(await authorizer.canRead(user('1'), 'escrow:100'))
    t.ok(await authorizer.canRead(user(INT8_MAX), `escrow:${INT8_MAX}`))
    for (const topic of ['escrow:0100', 'escrow:100 ', 'escrow:+100', 'escrow:100.0']) {
      t.notOk(await authorizer.canRead(user('1'), topic), `${JSON.stringify(topic)} is not escrow:100`)
    }
  })

  t.test('a guessed id and a foreign one get the same answer, through the same query', async (t) => {
    const outsider = user('2')
    t.ok(await authorizer.canRead(outsider, 'escrow:200'), 'the outsider is a party elsewhere')
    for (const topic of ['escrow:100', 'escrow:424242', ...NOT_ESCROW_TOPICS]) {
      const queries = authorizer.stats().membershipQueries
      t.notOk(await authorizer.canRead(outsider, topic), `${JSON.stringify(topic)} is refused`)
      t.equal(authorizer.stats().membershipQueries, queries + 1, `${JSON.stringify(topic)} asked the database once`)
    }
    const queries = authorizer.stats().membershipQueries
    t.notOk(await authorizer.canRead(user('01'), 'escrow:100'), 'a non-canonical sub is no party either')
    t.notOk(await authorizer.canRead(user('1 OR 1=1'), 'escrow:100'))
    t.equal(authorizer.stats().membershipQueries, queries + 2)
  })

  t.test('user:<id> is the caller\'s own canonical id only, admin or not', async (t) => {
    t.ok(await authorizer.canRead(user('1'), 'user:1'))
    t.ok(await authorizer.canRead(admin, 'user:99'))
    t.ok(await authorizer.canRead(user(INT8_MAX), `user:${INT8_MAX}`))
    t.notOk(await authorizer.canRead(admin, 'user:1'), 'notifications are personal')
    t.notOk(await authorizer.canRead(user('1'), 'user:01'))
    t.notOk(await authorizer.canRead(user('1'), 'user:'))
    t.notOk(await authorizer.canRead(user('1'), 'user:1 '))
    for (const sub of ['01', 'abc', '', '-1', '0', '9223372036854775808', '1 OR 1=1']) {
      t.notOk(await authorizer.canRead(user(sub), `user:${sub}`), `a token whose sub is ${JSON.stringify(sub)} names no user topic`)
      t.notOk(await authorizer.canRead(user(sub, true), `user:${sub}`), `nor for an admin (${JSON.stringify(sub)})`)
    }
  })

  t.test('anything else is refused', async (t) => {
    for (const topic of ['admin:disputes ', 'admin:other', 'ADMIN:disputes', 'ESCROW:100', 'notifications', '', 'escrow', 'user']) {
      t.notOk(await authorizer.canRead(admin, topic), `${JSON.stringify(topic)} for an admin`)
      t.notOk(await authorizer.canRead(user('1'), topic), `${JSON.stringify(topic)} for a user`)
    }
    t.ok(await authorizer.canRead(admin, 'admin:disputes'))
    t.notOk(await authorizer.canRead(user('1'), 'admin:disputes'))
  })
})
