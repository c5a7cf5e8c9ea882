import t from 'tap'
import { compileAccess } from '../../src/catalog/access.ts'
import type { Catalog } from '../../src/catalog/catalog.ts'
import { checkCatalogShape } from '../../src/catalog/validate.ts'
import { escrowCatalog } from '../../src/catalogs/escrow/index.ts'
import type { Db } from '../../src/db/database.ts'
import { makeEvent } from '../../src/history/event.ts'
import { createFollowSets } from '../../src/subscription/follow-sets.ts'

const base = escrowCatalog as unknown as Catalog
const escrowRule = base.access['escrow:{id}']!
const withAccess = (access: Record<string, unknown>): unknown => ({ ...base, access: { ...base.access, ...access } })
const noDb = new Proxy({}, { get() { throw new Error('no query expected') } }) as Db

t.test('a follow rule is checked like every other rule: one sentence per mistake', async (t) => {
  t.equal(checkCatalogShape(base, 'escrow'), base, 'the escrow catalog declares user:{id}:escrows')
  const MISTAKES: [string, unknown, RegExp][] = [
    ['an unknown pattern', withAccess({ 'user:{id}:escrows': { kind: 'follow', of: 'deal:{id}' } }), /access rule user:\{id\}:escrows follows "deal:\{id\}", which has no access rule/],
    ['a self rule', withAccess({ 'user:{id}:escrows': { kind: 'follow', of: 'user:{id}' } }), /follows user:\{id\}, a self rule: only membership and owner rules/],
    ['no grant event', withAccess({ 'escrow:{id}': { ...escrowRule, grantedBy: undefined } }), /whose rule lacks grantedBy or revokedBy/],
    ['a literal follow topic', withAccess({ 'my:escrows': { kind: 'follow', of: 'escrow:{id}' } }), /access rule my:escrows is a follow rule, which needs a \{placeholder\}/],
    ['an undeclared grant event', withAccess({ 'escrow:{id}': { ...escrowRule, grantedBy: { event: 'escrow:invited', key: 'escrowId', user: 'userId' } } }), /is granted by event "escrow:invited", which the catalog does not declare/],
    ['a grant event on another topic', withAccess({ 'escrow:{id}': { ...escrowRule, grantedBy: { event: 'notification:new', key: 'escrowId', user: 'userId' } } }), /is granted by notification:new, which is not published to escrow:\{id\}/],
    ['an event published to a follow set', { ...base, events: { ...base.events, 'notification:new': { topics: ['user:{id}:escrows'] } } }, /event notification:new is published to the follow set user:\{id\}:escrows/],
  ]
  for (const [what, catalog, message] of MISTAKES) t.throws(() => checkCatalogShape(catalog, 'escrow'), { code: 'CATALOG_INVALID', message }, what)
})

t.test('the most specific pattern names a topic, whatever the order of the rules', async (t) => {
  const access = compileAccess({ access: { 'user:{id}': { kind: 'self' }, ...base.access } })
  t.equal(access.resolve('user:1:escrows')?.rule.kind, 'follow')
  t.equal(access.resolve('user:1')?.rule.kind, 'self')
  t.same(access.follow('user:7:escrows')?.userId, '7')
  t.equal(access.follow('user:7'), undefined)
  t.same(access.followChanges('escrow:party_joined').map((c) => c.kind), ['add'])
  t.same(access.followChanges('escrow:party_left').map((c) => c.kind), ['remove'])
  t.same(access.followChanges('escrow:status_changed'), [])
})

t.test('follow-set changes are a pure function of the event: its own topic only, both names present', async (t) => {
  const sets = createFollowSets(noDb, escrowCatalog)
  const at = (type: string, topics: string[], data: Record<string, unknown>) => makeEvent({ lsn: 1n, seq: 0 }, { type, topics, data }, new Date(0))
  t.same(sets.changes(at('escrow:party_joined', ['escrow:5'], { escrowId: '5', userId: '2' })), [{ follow: 'user:2:escrows', userId: '2', member: 'escrow:5', kind: 'add' }])
  t.same(sets.changes(at('escrow:party_left', ['escrow:5'], { escrowId: '5', userId: '2' })), [{ follow: 'user:2:escrows', userId: '2', member: 'escrow:5', kind: 'remove' }])
  t.same(sets.changes(at('escrow:party_joined', ['escrow:6'], { escrowId: '5', userId: '2' })), [], 'a topic the event was not published to')
  t.same(sets.changes(at('escrow:party_joined', ['escrow:5'], { escrowId: '5', userId: null })), [], 'no user named')
  t.same(sets.changes(at('escrow:status_changed', ['escrow:5'], { escrowId: '5' })), [])
  t.same(await sets.members('user:x:escrows'), [], 'an id no user has: no query')
  t.same(await sets.members('escrow:1'), [], 'not a follow set')
  t.ok(sets.isFollow('user:1:escrows'))
})
