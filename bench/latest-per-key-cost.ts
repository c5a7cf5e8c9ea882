// What a conflated topic's state costs (I17, walcast.latest_per_key): the append with and
// without the state table, interleaved on two fresh databases, and a fresh subscriber's
// state read from the table against the DISTINCT ON over the topic's history it replaced,
// in shared buffers touched (Postgres' own count of the work, unlike the clock on a shared
// host). Run: DATABASE_URL=postgres://… npx tsx bench/latest-per-key-cost.ts [events]
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { sql } from 'kysely'
import { createDatabase, type Database } from '../src/db/database.ts'
import { migrate } from '../src/db/migrate.ts'
import { createHistoryStore, type HistoryStore } from '../src/history/store.ts'
import { makeEvent, type StoredEvent } from '../src/history/event.ts'
import { conflatedTopics } from '../src/catalog/conflation.ts'
import { tradingCatalog } from '../src/catalogs/trading/index.ts'
import { ZERO_ID } from '../src/event-id.ts'
import { readLatestPerKey } from '../src/history/latest-per-key.ts'
import { loadConfig } from '../src/config.ts'

const BATCH = 250
const LEVELS = 25
const total = Number(process.argv[2] ?? 200_000)
const base = loadConfig(process.env).database.url
if (base === undefined) throw new Error('set DATABASE_URL to a Postgres the bench may create databases on')

async function freshDatabase(): Promise<{ database: Database; drop: () => Promise<void> }> {
  const name = `walcast_bench_lpk_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: base })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  const url = new URL(base!)
  url.pathname = `/${name}`
  const database = createDatabase({ url: url.toString(), poolSize: 2 })
  await migrate(database.db)
  return {
    database,
    drop: async () => {
      await database.close()
      await admin.query(`DROP DATABASE ${name}`)
      await admin.end()
    },
  }
}

function bookBatch(first: bigint): StoredEvent[] {
  return Array.from({ length: BATCH }, (_, i) => makeEvent({ lsn: first + BigInt(i), seq: 0 }, {
    type: 'book:level',
    topics: ['orderbook:BTC-USD'],
    data: { asset: 'BTC-USD', side: i % 2 === 0 ? 'bid' : 'ask', price: String(100 + ((i >> 1) % LEVELS)), qty: String(Math.random()) },
  }, new Date()))
}

const a = await freshDatabase()
const b = await freshDatabase()
const plain = createHistoryStore(a.database.db)
const kept = createHistoryStore(b.database.db, conflatedTopics(tradingCatalog))
const ms = { plain: 0, kept: 0 }
const cpu = { plain: 0, kept: 0 }
const timed = async (arm: 'plain' | 'kept', store: HistoryStore, events: StoredEvent[]): Promise<void> => {
  const started = performance.now()
  const before = process.cpuUsage()
  await store.append(events)
  const used = process.cpuUsage(before)
  cpu[arm] += (used.user + used.system) / 1000
  ms[arm] += performance.now() - started
}
let lsn = 0x1000n
for (let n = 0; n < total; n += BATCH) {
  const events = bookBatch(lsn)
  lsn += BigInt(BATCH)
  // Alternate which arm goes first, so neither always meets a warmer cache.
  if ((n / BATCH) % 2 === 0) { await timed('plain', plain, events); await timed('kept', kept, events) } else { await timed('kept', kept, events); await timed('plain', plain, events) }
}
const batches = Math.ceil(total / BATCH)
console.log(`append of ${total} book events in ${batches} batches of ${BATCH} (${2 * LEVELS} keys):`)
console.log(`  without the state table: ${(ms.plain / batches).toFixed(2)} ms per batch (node CPU ${(cpu.plain / batches).toFixed(2)} ms)`)
console.log(`  with it:                 ${(ms.kept / batches).toFixed(2)} ms per batch (node CPU ${(cpu.kept / batches).toFixed(2)} ms)`)

async function explain(db: Database['db'], text: ReturnType<typeof sql>): Promise<{ ms: number; buffers: number }> {
  const rows = await sql<{ 'QUERY PLAN': [{ Plan: { 'Shared Hit Blocks': number; 'Shared Read Blocks': number }; 'Execution Time': number }] }>`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${text}`.execute(db)
  const plan = rows.rows[0]!['QUERY PLAN'][0]
  return { ms: plan['Execution Time'], buffers: plan.Plan['Shared Hit Blocks'] + plan.Plan['Shared Read Blocks'] }
}
await sql`ANALYZE`.execute(b.database.db)
const state = await readLatestPerKey(b.database.db, 'orderbook:BTC-USD', ZERO_ID, 1000)
// The statement readLatestPerKey ran before the table (git show 1979d6e:src/history/latest-per-key.ts).
// (payload is json since sql/007, which has no equality: compared as jsonb, as the table's keys are.)
const key = sql`e.payload::jsonb -> 'side', e.payload::jsonb -> 'price'`
const before = sql`
  SELECT commit_lsn::text AS commit_lsn, seq, topics, type, payload, ts FROM (
    SELECT DISTINCT ON (${key}) e.commit_lsn, e.seq, array_to_json(e.topics)::text AS topics, e.type, e.payload::text AS payload,
      to_char(e.committed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ts
    FROM walcast.event_topics t
    JOIN walcast.events e ON e.commit_lsn = t.commit_lsn AND e.seq = t.seq
    WHERE t.topic = 'orderbook:BTC-USD' AND (t.commit_lsn, t.seq) > ('0/0'::pg_lsn, 0)
    ORDER BY ${key}, t.commit_lsn DESC, t.seq DESC
  ) latest
  ORDER BY commit_lsn, seq
  LIMIT 1000`
const now = sql`
  SELECT e.commit_lsn::text AS commit_lsn, e.seq, array_to_json(e.topics)::text AS topics, e.type, e.payload::text AS payload,
    to_char(e.committed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ts
  FROM (
    SELECT commit_lsn, seq FROM walcast.latest_per_key
    WHERE topic = 'orderbook:BTC-USD' AND (commit_lsn, seq) > ('0/0'::pg_lsn, 0)
    ORDER BY commit_lsn, seq LIMIT 1000
  ) k
  JOIN walcast.events e ON e.commit_lsn = k.commit_lsn AND e.seq = k.seq
  ORDER BY k.commit_lsn, k.seq`
const runs = { before: [] as { ms: number; buffers: number }[], now: [] as { ms: number; buffers: number }[] }
for (let i = 0; i < 3; i++) {
  runs.before.push(await explain(b.database.db, before))
  runs.now.push(await explain(b.database.db, now))
}
const show = (r: { ms: number; buffers: number }[]): string => r.map((x) => `${x.ms.toFixed(1)} ms / ${x.buffers} buffers`).join(', ')
console.log(`a fresh subscriber's state (${state.length} keys of ${total} events):`)
console.log(`  DISTINCT ON over the history: ${show(runs.before)}`)
console.log(`  latest_per_key:               ${show(runs.now)}`)
await a.drop()
await b.drop()
