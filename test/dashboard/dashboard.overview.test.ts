import t from 'tap'
import type { CatalogDashboard } from '../../src/catalog/catalog.ts'
import type { Db } from '../../src/db/database.ts'
import { OVERVIEW_LIMIT, overviewFor } from '../../src/dashboard/overview.ts'

// No query runs in these cases: a database that refuses every use proves it.
const noDb = new Proxy({}, { get() { throw new Error('no query expected') } }) as Db

t.test('a catalog without a dashboard view: its name, no rows, no topics', async (t) => {
  t.same(await overviewFor(noDb, { name: 'mine' }, '1'), { catalog: 'mine', title: 'mine', columns: [], rows: [], topics: [], notifications: [], summaries: {} })
})

t.test('the catalog’s user id shape decides which subjects are users; the list is bounded', async (t) => {
  const asked: [string, number][] = []
  const dashboard: CatalogDashboard = {
    title: 'Things',
    columns: { id: '#' },
    async list(_db, userId, limit) {
      asked.push([userId, limit])
      return [{ id: 'a', topic: 'thing:a', cells: { id: 'a' } }]
    },
    userTopics: ['inbox:{id}'],
  }
  const uuid = '0b7e4d1c-1f5a-4c55-9d1e-2b9e5a1c7f00'
  const overview = await overviewFor(noDb, { name: 'things', userId: 'uuid', dashboard }, uuid)
  t.same(asked, [[uuid, OVERVIEW_LIMIT]])
  t.same(overview.topics, [{ topic: `inbox:${uuid}`, label: 'yours' }, { topic: 'thing:a', label: '#a' }])
  t.same(overview.columns, [{ key: 'id', label: '#' }])
  const stranger = await overviewFor(noDb, { name: 'things', userId: 'uuid', dashboard }, '42')
  t.same([stranger.rows, stranger.topics], [[], []], 'a subject outside the shape names no user: no query, no topic')
  t.equal(asked.length, 1)
})

t.test('a catalog with a follow set: the page subscribes to it once, not to each row', async (t) => {
  const dashboard: CatalogDashboard = {
    title: 'Things',
    columns: { id: '#' },
    list: async () => Array.from({ length: 120 }, (_, i) => ({ id: String(i + 1), topic: `thing:${i + 1}`, cells: { id: String(i + 1) } })),
    userTopics: ['inbox:{id}'],
    follow: 'inbox:{id}:things',
  }
  const overview = await overviewFor(noDb, { name: 'things', dashboard }, '7')
  t.equal(overview.rows.length, 120)
  t.same(overview.topics, [{ topic: 'inbox:7', label: 'yours' }, { topic: 'inbox:7:things', label: 'all of them' }], 'two topics for 120 rows')
})
