import t from 'tap'
import type { Catalog } from '../../src/catalog/catalog.ts'
import { checkCatalogShape } from '../../src/catalog/validate.ts'
import { escrowCatalog } from '../../src/catalogs/escrow/index.ts'
import projects from '../fixtures/catalog-projects.ts'

const base = projects as unknown as Catalog
const variant = (change: Partial<Record<keyof Catalog, unknown>>): unknown => ({ ...base, ...change })
const tasks = base.tables[0]!

// Each mistake, and the one sentence that names it.
const MISTAKES: [string, unknown, RegExp][] = [
  ['not an object', 42, /^catalog module\.ts: is not a catalog object$/],
  ['no name', variant({ name: '' }), /^catalog module\.ts: has no name$/],
  ['no tables', variant({ tables: [] }), /tracks no tables/],
  ['no events', variant({ events: null }), /declares no events/],
  ['no access', variant({ access: undefined }), /declares no access rules/],
  ['a bad userId shape', variant({ userId: 'email' }), /userId "email" is not one of int8, uuid, text/],
  ['an unqualified table', variant({ tables: [{ ...tasks, table: 'tasks' }] }), /table tasks is not a qualified lower-case name/],
  ['a table twice', variant({ tables: [tasks, tasks] }), /table app\.tasks is listed twice/],
  ['no map', variant({ tables: [{ ...tasks, map: undefined }] }), /table app\.tasks has no map\(change\) function/],
  ['no columns', variant({ tables: [{ ...tasks, columns: [] }] }), /table app\.tasks allows no columns/],
  ['a column that is no name', variant({ tables: [{ ...tasks, columns: ['id', 'Title; DROP'] }] }), /column "Title; DROP" is not a lower-case column name/],
  ['no event list', variant({ tables: [{ ...tasks, events: undefined }] }), /table app\.tasks lists no events/],
  ['an undeclared event', variant({ tables: [{ ...tasks, events: ['task.moved'] }] }), /table app\.tasks produces event "task\.moved", which the catalog does not declare/],
  ['a topic with no access rule', variant({ events: { ...base.events, 'task.done': { topics: ['team:{id}'] } } }), /event task\.done is published to topic team:\{id\}, which has no access rule/],
  ['an event with no topic', variant({ events: { ...base.events, 'task.done': { topics: [] } } }), /event task\.done goes to no topic/],
  ['two placeholders', variant({ access: { ...base.access, 'a:{x}:{y}': { kind: 'self' } } }), /topic pattern "a:\{x\}:\{y\}" has more than one \{placeholder\}/],
  ['no literal prefix', variant({ access: { ...base.access, '{id}': { kind: 'self' } } }), /needs a literal prefix/],
  ['not a topic name', variant({ access: { ...base.access, 'a b': { kind: 'role', role: 'x' } } }), /topic pattern "a b" is not a topic name/],
  ['two patterns for the same topics', variant({ access: { ...base.access, 'project:{pid}': { kind: 'self' } } }), /topic patterns project:\{id\} and project:\{pid\} name the same topics/],
  ['a rule without a kind', variant({ access: { ...base.access, 'owner:{id}': { table: 'app.projects' } } }), /access rule owner:\{id\} has no kind: expected one of membership, owner, self, role/],
  ['a role rule without a role', variant({ access: { ...base.access, 'ops:renames': { kind: 'role' } } }), /access rule ops:renames names no role/],
  ['a lookup on a literal topic', variant({ access: { ...base.access, 'ops:renames': { kind: 'self' } } }), /access rule ops:renames is a self rule, which needs a \{placeholder\}/],
  ['an unqualified rule table', variant({ access: { ...base.access, 'owner:{id}': { kind: 'owner', table: 'projects', key: 'id', owners: ['owner_id'] } } }), /access rule owner:\{id\}: table "projects" is not a qualified/],
  ['a bad id shape', variant({ access: { ...base.access, 'owner:{id}': { kind: 'owner', table: 'app.projects', key: 'id', owners: ['owner_id'], id: 'int4' } } }), /access rule owner:\{id\}: id "int4" is not one of int8, uuid, text/],
  ['no owners', variant({ access: { ...base.access, 'owner:{id}': { kind: 'owner', table: 'app.projects', key: 'id', owners: [] } } }), /access rule owner:\{id\} names no owner columns/],
  ['a bad key column', variant({ access: { ...base.access, 'owner:{id}': { kind: 'owner', table: 'app.projects', key: 'ID', owners: ['owner_id'] } } }), /access rule owner:\{id\}: column "ID" is not a lower-case column name/],
  ['an undeclared revoking event', variant({ access: { ...base.access, 'project:{id}': { ...base.access['project:{id}'], revokedBy: { event: 'member.gone', key: 'projectId', user: 'userId' } } } }), /is revoked by event "member\.gone", which the catalog does not declare/],
  ['a revoking event on another topic', variant({ access: { ...base.access, 'project:{id}': { ...base.access['project:{id}'], revokedBy: { event: 'project.renamed', key: 'projectId', user: 'userId' } } } }), /is revoked by project\.renamed, which is not published to project:\{id\}/],
  ['a revoker without fields', variant({ access: { ...base.access, 'project:{id}': { ...base.access['project:{id}'], revokedBy: { event: 'member.removed' } } } }), /revokedBy needs the data fields/],
]

t.test('I14: each mistake in a catalog is refused with one CatalogError naming it', async (t) => {
  for (const [what, catalog, message] of MISTAKES) {
    t.throws(() => checkCatalogShape(catalog, 'module.ts'), { code: 'CATALOG_INVALID', name: 'CatalogError', message, hint: /\S/ }, what)
  }
})

t.test('the built-in escrow catalog and the fixture module pass as they are', async (t) => {
  t.equal(checkCatalogShape(escrowCatalog, 'escrow').name, 'escrow')
  t.equal(checkCatalogShape(projects, 'projects').name, 'projects')
})
