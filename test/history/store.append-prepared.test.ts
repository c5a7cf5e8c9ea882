import t from 'tap'
import { sql } from 'kysely'
import { createTestDatabase } from '../helpers/db.ts'
import { appendPlanPool } from '../helpers/history-seed.ts'
import { createDatabase } from '../../src/db/database.ts'
import { createHistoryStore } from '../../src/history/store.ts'
import { makeEvent, type StoredEvent } from '../../src/history/event.ts'
import { ZERO_ID } from '../../src/event-id.ts'

// The history append runs once per batch, and at live rates a batch is a few events:
// parsing and planning its statement each time cost Postgres as much as running it. It is
// a named prepared statement on each connection (src/db/database.ts, PREPARED). What
// that must not change: an append again still stores each id once and probes only the
// ids at or below the greatest (I1), with the generic plan Postgres switches to after
// five runs too; and a connection the pool replaced prepares it again.

const at = new Date(Date.UTC(2026, 11, 2, 12, 0, 0))
function event(lsn: number, seq: number, version: string): StoredEvent {
  return makeEvent({ lsn: BigInt(lsn), seq }, { type: 'note', topics: [`escrow:${lsn % 7}`, 'all'], data: { lsn, seq, version } }, at)
}

function batch(fromLsn: number, transactions: number, version: string): StoredEvent[] {
  const out: StoredEvent[] = []
  for (let i = 0; i < transactions; i++) for (let seq = 0; seq < 2; seq++) out.push(event(fromLsn + i * 0x10, seq, version))
  return out
}

interface Prepared { name: string; statement: string; runs: number }

async function preparedAppends(database: ReturnType<typeof createDatabase>): Promise<Prepared[]> {
  const rows = await sql<{ name: string; statement: string; runs: string }>`
    SELECT name, statement, (generic_plans + custom_plans)::text AS runs FROM pg_prepared_statements`.execute(database.db)
  return rows.rows.map((row) => ({ name: row.name, statement: row.statement, runs: Number(row.runs) }))
}

t.test('the append is parsed once per connection and run as a prepared statement', async (t) => {
  const tdb = await createTestDatabase(t)
  const database = createDatabase({ url: tdb.url, poolSize: 1 })
  t.teardown(() => database.close())
  const history = createHistoryStore(database.db)
  for (let i = 0; i < 3; i++) await history.append(batch(0x1000 + i * 0x100, 4, 'live'))

  const prepared = await preparedAppends(database)
  t.equal(prepared.length, 1, 'one prepared statement on the connection: the append; other statements are not prepared')
  t.match(prepared[0]?.statement ?? '', /INSERT INTO walcast\.event_topics/, 'it is the append')
  t.equal(prepared[0]?.runs, 3, 'planned for each of the three appends, parsed once')
  const stored = await history.readAfter(ZERO_ID, 100)
  t.equal(stored.length, 24, 'every event stored')
})

t.test('I1: with the generic plan an append again stores each new id once and probes only ids at or below the greatest', async (t) => {
  const tdb = await createTestDatabase(t)
  const { database, plans } = appendPlanPool(t, tdb)
  await database.db.connection().execute(async (conn) => {
    // What Postgres picks once the custom plans were not cheaper, from the first run on.
    await sql`SET plan_cache_mode = force_generic_plan`.execute(conn)
    const history = createHistoryStore(conn)
    for (let i = 0; i < 50; i++) await history.append(batch(0x10000 + i * 0x1000, 50, 'first'))
    await sql`ANALYZE walcast.events`.execute(conn)
    await sql`LOAD 'auto_explain'`.execute(conn)
    await sql`SET auto_explain.log_min_duration = 0`.execute(conn)
    await sql`SET auto_explain.log_analyze = on`.execute(conn)
    await sql`SET auto_explain.log_timing = off`.execute(conn)
    await sql`SET client_min_messages = log`.execute(conn)
    // 200 stored ids, then 20 new ones.
    const again = [...batch(0x10000 + 10 * 0x1000, 50, 'again'), ...batch(0x10000 + 11 * 0x1000, 50, 'again'), ...batch(0x10000 + 60 * 0x1000, 10, 'fresh')]
    await history.append(again)
    await sql`RESET client_min_messages`.execute(conn)
  })
  const [prepared] = await preparedAppends(database)
  t.ok((prepared?.runs ?? 0) > 5, 'the append ran as a prepared statement')

  const plan = plans.at(-1) ?? ''
  t.notMatch(plan, /hashed SubPlan \d|Seq Scan on events /, 'no hash of the history, no scan of it')
  const probes = /Index Only Scan using events_pkey on events e .*loops=(\d+)\)/.exec(plan)
  t.ok(probes, 'stored ids are looked up in the primary key')
  t.equal(Number(probes?.[1]), 200, 'one probe per id at or below the greatest stored one, none for the new ones')
  const counts = await tdb.query<{ events: string; again: string; fresh: string }>(`
    SELECT count(*) AS events, count(*) FILTER (WHERE payload->>'version' = 'again') AS again,
      count(*) FILTER (WHERE payload->>'version' = 'fresh') AS fresh FROM walcast.events`)
  t.same(counts.rows[0], { events: String(50 * 100 + 20), again: '0', fresh: '20' }, 'stored ids kept as they were, the new ones stored once')
})

t.test('a connection replaced after its server process ended prepares the append again', async (t) => {
  const tdb = await createTestDatabase(t)
  const database = createDatabase({ url: tdb.url, poolSize: 1, applicationName: 'walcast-prepared-test' })
  t.teardown(() => database.close())
  const history = createHistoryStore(database.db)
  await history.append(batch(0x1000, 2, 'before'))
  await tdb.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'walcast-prepared-test' AND datname = current_database()`)
  // The pool learns of the loss from the first statement on the dead connection (or its
  // error event); an ingest reconnects and appends again. Either way the next append on a
  // new connection must not assume the statement is there.
  let appended = false
  for (let attempt = 0; attempt < 3 && !appended; attempt++) {
    appended = await history.append(batch(0x2000, 2, 'after')).then(() => true, () => false)
  }
  t.ok(appended, 'the append runs on the new connection')
  const [prepared] = await preparedAppends(database)
  t.match(prepared?.statement ?? '', /INSERT INTO walcast\.event_topics/, 'prepared there again')
  const stored = await history.readAfter(ZERO_ID, 100)
  t.equal(stored.length, 8, 'both appends stored')
})
