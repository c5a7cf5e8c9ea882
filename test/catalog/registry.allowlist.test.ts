import t from 'tap'
import type { Catalog } from '../../src/catalog/catalog.ts'
import { createCatalogRegistry } from '../../src/catalog/registry.ts'
import type { Row, RowChange } from '../../src/catalog/row-change.ts'
import { escrowCatalog } from '../../src/catalogs/escrow/index.ts'
import projects from '../fixtures/catalog-projects.ts'

const registry = createCatalogRegistry(projects as unknown as Catalog)
const task = (done: boolean, extra: Row = {}): Row => ({ id: '5', project_id: '1', title: 'T', done, private_note: 'secret', ...extra })
const change = (kind: RowChange['kind'], old: Row | null, next: Row | null, table = 'app.tasks'): RowChange => ({ kind, table, old, new: next })

t.test('I13: a mapper sees only its table\'s allowlisted columns', async (t) => {
  const seen: RowChange[] = []
  const spy = createCatalogRegistry({
    ...(projects as unknown as Catalog),
    tables: [{ ...projects.tables[0]!, map: (c: RowChange) => { seen.push(c); return [] } }],
  })
  spy.map(change('update', task(false), task(true, { private_note: 'other' })))
  t.same(seen, [change('update', { id: '5', project_id: '1', title: 'T', done: false }, { id: '5', project_id: '1', title: 'T', done: true })])
  const escrows = createCatalogRegistry(escrowCatalog)
  const events = escrows.map({ kind: 'insert', table: 'public.notifications', old: null, new: { id: '1', user_id: '2', kind: 'k', title: 't', body: 'b', created_at: null, email: 'x@example.com' } })
  t.notOk(JSON.stringify(events).includes('example.com'), 'a column outside the allowlist cannot reach a payload')
})

t.test('row changes to events: insert, update with old and new, delete; none for a no-op or a TOAST-unchanged column', async (t) => {
  const map = (c: RowChange) => registry.map(c).map((e) => [e.type, e.topics, e.data])
  t.same(map(change('insert', null, task(false))), [['task.created', ['project:1'], { taskId: '5', projectId: '1', title: 'T' }]])
  t.same(map(change('update', task(false), task(true))), [['task.done', ['project:1'], { taskId: '5', projectId: '1' }]])
  t.same(map(change('update', task(true), task(true))), [], 'a no-op update')
  t.same(map(change('update', task(false), task(false, { private_note: 'changed' }))), [], 'a change outside the allowlist')
  t.same(map(change('update', task(false), { ...task(false), done: undefined })), [], 'an unchanged TOASTed value is no change')
  t.same(map(change('delete', task(true), null)), [['task.deleted', ['project:1'], { taskId: '5', projectId: '1' }]])
  t.same(map(change('delete', { project_id: '1', user_id: '11' }, null, 'app.project_members')), [['member.removed', ['project:1'], { projectId: '1', userId: '11' }]])
  t.same(map(change('insert', null, { project_id: '1', user_id: '11' }, 'app.project_members')), [], 'joining yields nothing in this catalog')
  t.same(map(change('insert', null, task(false), 'app.other')), [], 'a table the catalog does not track')
  t.same(registry.tables, ['app.project_members', 'app.projects', 'app.tasks'])
  t.same(registry.fullIdentityTables, ['app.project_members', 'app.projects', 'app.tasks'])
  t.same(createCatalogRegistry(escrowCatalog).fullIdentityTables, ['public.disputes', 'public.escrow_parties', 'public.escrows', 'public.milestones'], 'escrow needs FULL where it did before')
})
