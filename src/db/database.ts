import pg from 'pg'
import { Kysely, PostgresDialect } from 'kysely'
import type { Schema } from '../history/schema.ts'
import { StartupError, isRetryable } from '../errors.ts'

export type Db = Kysely<Schema>

export interface Database {
  readonly db: Db
  readonly pool: pg.Pool
  close(): Promise<void>
}

export interface DatabaseOptions {
  url: string
  poolSize: number
  applicationName?: string
}

/** One pool and one kysely instance for every query walcast makes. */
export function createDatabase(options: DatabaseOptions): Database {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    application_name: options.applicationName ?? 'walcast',
    connectionTimeoutMillis: 10_000,
  })
  // An idle client that loses its server (a restart) must not crash the process.
  pool.on('error', () => {})
  // Nor a checked-out one: pg-pool detaches its idle listener while a client is lent, and
  // pg emits 'error' on a client whose socket fails (`Connection terminated unexpectedly`,
  // `read ECONNRESET` when the server stops with a query in flight) besides failing the
  // query. An 'error' nobody listens to ends the process; the query's rejection already
  // reports the failure, and the pool discards the broken client when it comes back.
  pool.on('connect', (client) => client.on('error', () => {}))
  const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) })
  let closed = false
  return {
    db,
    pool,
    async close() {
      if (closed) return
      closed = true
      await db.destroy()
    },
  }
}

/** Fails with DB_UNREACHABLE and a hint when the server cannot be reached at all. */
export async function checkReachable(pool: pg.Pool, display: string): Promise<void> {
  try {
    const client = await pool.connect()
    client.release()
  } catch (err) {
    if (isRetryable(err) || (err as { code?: string }).code === '28P01' || (err as { code?: string }).code === '3D000') {
      throw new StartupError('DB_UNREACHABLE', `cannot connect to Postgres at ${display}: ${(err as Error).message}`, {
        cause: err,
        hint: 'check DATABASE_URL (host, port, database, credentials) and that the server is running',
      })
    }
    throw err
  }
}
