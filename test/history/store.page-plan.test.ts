import t, { type Test } from 'tap'
import pg from 'pg'
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts'
import { seedHistory } from '../helpers/history-seed.ts'
import { createHistoryStore } from '../../src/history/store.ts'
import { parseEventId } from '../../src/event-id.ts'

// I3: a resume replays a topic's history page by page, and each page must cost what it
// returns, not what is left of the topic or of the history, whatever the planner's
// statistics say: a table that just took a burst (statistics from before it) and a topic
// that is most of the history (fresh statistics) each once led the planner to scan every
// remaining row for every page. walcast.history_pages (sql/006) pins the plan; this reads
// the plan Postgres actually ran inside it (auto_explain, nested statements) and counts
// the rows each node touched.

async function pagePlan(tdb: TestDatabase, topics: string[], after: string, limit: number): Promise<{ plan: string; rows: number }> {
  const client = new pg.Client({ connectionString: tdb.url })
  await client.connect()
  const logs: string[] = []
  client.on('notice', (notice) => { logs.push(notice.message ?? '') })
  try {
    await client.query(`LOAD 'auto_explain'`)
    await client.query(`SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on; SET auto_explain.log_analyze = on; SET auto_explain.log_timing = off; SET client_min_messages = log`)
    const id = parseEventId(after)
    const result = await client.query(`SELECT * FROM walcast.history_pages($1::text[], $2::pg_lsn, $3::int, $4::int)`,
      [topics, `${(id.lsn >> 32n).toString(16).toUpperCase()}/${(id.lsn & 0xffffffffn).toString(16).toUpperCase()}`, id.seq, limit])
    const inner = logs.find((log) => log.includes('walcast.event_topics'))
    return { plan: inner ?? logs.join('\n'), rows: result.rowCount ?? 0 }
  } finally {
    await client.end()
  }
}

function assertPinned(t: Test, plan: string, rows: number, what: string): void {
  t.notMatch(plan, /Seq Scan|Bitmap|Hash Join|Merge Join/, `${what}: no scan of what is left, no hash or merge join`)
  t.match(plan, /Index Only Scan using event_topics_pkey on event_topics et .*\(actual rows=\d+(\.\d+)? loops=\d+\)/, `${what}: the topic's range of its index`)
  const probes = /Index Scan using events_pkey on events e .*\(actual rows=1(\.00)? loops=(\d+)\)/.exec(plan)
  t.ok(probes, `${what}: one primary-key probe per row`)
  t.equal(Number(probes?.[2]), rows, `${what}: as many probes as rows returned`)
}

t.test('I3: a history page reads only its rows, with stale or fresh statistics', async (t) => {
  const tdb = await createTestDatabase(t)
  await tdb.query(`ALTER TABLE walcast.events SET (autovacuum_enabled = false); ALTER TABLE walcast.event_topics SET (autovacuum_enabled = false)`)
  const history = createHistoryStore(tdb.database.db)
  // A few quiet topics, analyzed; then a burst of one topic the statistics know nothing of.
  for (let i = 0; i < 5; i++) await seedHistory(tdb, `escrow:${i}`, 20, { firstLsn: 0x1000 + i * 100 })
  await tdb.query('ANALYZE walcast.events; ANALYZE walcast.event_topics')
  const ids = await seedHistory(tdb, 'escrow:hot', 60_000, { firstLsn: 0x10000 })

  const stale = await pagePlan(tdb, ['escrow:hot'], ids[30_000]!, 500)
  t.equal(stale.rows, 500)
  assertPinned(t, stale.plan, 500, 'stale statistics')

  // Now the statistics know the hot topic is nearly the whole history: a page of 2,000
  // (the replay's grown page) was planned as a hash join over every event.
  await tdb.query('ANALYZE walcast.events; ANALYZE walcast.event_topics')
  const fresh = await pagePlan(tdb, ['escrow:hot'], ids[10_000]!, 2000)
  t.equal(fresh.rows, 2000)
  assertPinned(t, fresh.plan, 2000, 'fresh statistics')

  const each = await pagePlan(tdb, ['escrow:hot', 'escrow:1', 'escrow:none'], ids[59_900]!, 500)
  assertPinned(t, each.plan, each.rows, 'a follow set')

  // The store reads through it: the same page, in order, one round trip.
  const page = await history.readSince('escrow:hot', parseEventId(ids[30_000]!), 500)
  t.same(page.map((event) => event.id), ids.slice(30_001, 30_501))
  const pages = await history.readSinceEach(['escrow:1', 'escrow:hot'], parseEventId(ids[59_990]!), 50)
  t.same(pages.map((p) => p.length), [0, 9])
})
