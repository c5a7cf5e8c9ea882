/**
 * `node --import tsx bench/profile-big-transaction.ts [rows]`: the ingest phase's big
 * transaction alone (bench/scenarios/big-transaction.ts; default 1,000,000 rows), walcast
 * from dist/ in its own process: its peak RSS, the time from the commit until every
 * event is durable and published, and its CPU per row. Run `npm run build` first.
 * Postgres: DATABASE_URL's server, or an embedded one. Compare commits interleaved
 * (A B A B): on a shared host one figure means little.
 */
import { randomBytes } from 'node:crypto'
import { startBenchPostgres } from './lib/postgres.ts'
import { PROFILES } from './profile.ts'
import { measureBigTransaction } from './scenarios/big-transaction.ts'

const rows = Number(process.argv[2] ?? 1_000_000)
const postgres = await startBenchPostgres(process.env.DATABASE_URL)
try {
  const log = (message: string): void => { process.stdout.write(`${message}\n`) }
  const result = await measureBigTransaction({ profile: PROFILES.full, postgres, suffix: randomBytes(3).toString('hex'), systems: [], generator: undefined as never, log }, rows)
  process.stdout.write(`${JSON.stringify(result)}\n`)
} finally {
  await postgres.stop()
}
process.exit(0)
