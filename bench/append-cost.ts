// What the history append costs Postgres, per event: the CPU of the one backend that runs
// it, read from /proc (not the clock, which measures a shared host), over batches of
// realistic catch-up events (escrow:milestone_released, one topic each, as the ingest
// drain writes them). Run: npx tsx bench/append-cost.ts [events] [batch]
// (DATABASE_URL's server, or an embedded PG 18 like the bench's). `--explain` prints
// EXPLAIN (ANALYZE, BUFFERS) of one more batch; `--pause` waits for Enter before the
// timed batches, printing the backend's pid for `perf record -p`.
import fs from 'node:fs'
import readline from 'node:readline/promises'
import { sql } from 'kysely'
import { createDatabase } from '../src/db/database.ts'
import { migrate } from '../src/db/migrate.ts'
import { createHistoryStore } from '../src/history/store.ts'
import { makeEvent, type StoredEvent } from '../src/history/event.ts'
import { startBenchPostgres } from './lib/postgres.ts'

const args = process.argv.slice(2).filter((arg) => !arg.startsWith('--'))
const total = Number(args[0] ?? 100_000)
const batch = Number(args[1] ?? 5_000)
const postgres = await startBenchPostgres(process.env.DATABASE_URL)
const name = `bench_append_${process.pid}`
const url = await postgres.createDatabase(name)
const database = createDatabase({ url, poolSize: 1 })

function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

let lsn = 0x1_0000_0000n
let milestone = 0
function nextBatch(): StoredEvent[] {
  const events: StoredEvent[] = []
  const committed = new Date()
  // 100-row transactions, like the bench's writer: one commit LSN per 100 events.
  while (events.length < batch) {
    lsn += 0x4000n
    for (let seq = 0; seq < 100 && events.length < batch; seq++) {
      milestone++
      const escrowId = String(1 + (milestone % 10))
      events.push(makeEvent({ lsn, seq }, {
        type: 'escrow:milestone_released',
        topics: [`escrow:${escrowId}`],
        data: { escrowId, milestoneId: String(milestone), amount: `${milestone}.00`, currency: 'EUR', releasedAt: committed.toISOString() },
      }, committed))
    }
  }
  return events
}

try {
  await migrate(database.db)
  const history = createHistoryStore(database.db)
  const pid = (await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(database.db)).rows[0]!.pid
  // Warm-up: plans, catalog caches, the first pages of each index.
  for (let i = 0; i < 3; i++) await history.append(nextBatch())
  if (process.argv.includes('--pause')) {
    const rl = readline.createInterface({ input: process.stdin, output: process.stdout })
    await rl.question(`backend pid ${pid}; Enter to start `)
    rl.close()
  }
  const cpu0 = cpuSeconds(pid)
  const node0 = process.cpuUsage()
  const started = performance.now()
  let appended = 0
  while (appended < total) {
    const events = nextBatch()
    await history.append(events)
    appended += events.length
  }
  const ms = performance.now() - started
  const backend = cpuSeconds(pid) - cpu0
  const node = process.cpuUsage(node0)
  process.stdout.write(`append: ${appended} events in batches of ${batch}: backend ${((backend * 1e6) / appended).toFixed(2)} µs per event, node ${((node.user + node.system) / appended).toFixed(2)} µs per event, ${Math.round(ms)} ms\n`)
  if (process.argv.includes('--explain')) {
    const events = nextBatch()
    const explained = createHistoryStore(explainingDb(database.db))
    await explained.append(events)
  }
} finally {
  await database.close()
  await postgres.dropDatabase(name).catch(() => {})
  await postgres.stop()
}

/** A Kysely whose raw statements run under EXPLAIN (ANALYZE, BUFFERS), the plan printed. */
function explainingDb(db: typeof database.db): typeof database.db {
  return db.withPlugin({
    transformQuery: (args) => {
      const node = args.node as unknown as { kind: string; sqlFragments: readonly string[] }
      if (node.kind !== 'RawNode') return args.node
      return { ...node, sqlFragments: [`EXPLAIN (ANALYZE, BUFFERS) ${node.sqlFragments[0]}`, ...node.sqlFragments.slice(1)] } as unknown as typeof args.node
    },
    transformResult: async (args) => {
      process.stdout.write(`${(args.result.rows as Array<Record<string, string>>).map((row) => row['QUERY PLAN']).join('\n')}\n`)
      return args.result
    },
  })
}
