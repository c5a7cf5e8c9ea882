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
  pool.on('connect', (client) => {
    client.on('error', () => {})
    prepareMarked(client)
  })
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

/**
 * A statement whose text starts with this comment runs as a named prepared statement on
 * each connection: parsed and planned once there, then only bound and executed. For the
 * history append, which runs once per batch and at live rates carries a few events
 * each, parsing and planning were half of its backend's CPU (bench/findings.md). Only
 * for statements whose text is fixed (values passed as parameters): one name per text,
 * kept for the process's life.
 */
export const PREPARED = '/* walcast:prepared */'

const statementNames = new Map<string, string>()

function statementName(text: string): string {
  let name = statementNames.get(text)
  if (name === undefined) {
    name = `walcast_${statementNames.size + 1}`
    statementNames.set(text, name)
  }
  return name
}

type QueryFn = (config: unknown, values?: unknown, callback?: unknown) => unknown

/**
 * kysely hands pg the statement's text and values, never a name: marked texts get one
 * here. pg prepares a name on each connection the first time it runs there, so a
 * connection the pool replaced (a server restart) prepares it again.
 */
function prepareMarked(client: pg.PoolClient): void {
  const query = client.query as unknown as QueryFn
  const named: QueryFn = function (this: pg.PoolClient, config, values, callback) {
    if (typeof config === 'string' && config.startsWith(PREPARED) && Array.isArray(values)) {
      return query.call(this, { name: statementName(config), text: config, values }, callback)
    }
    return query.call(this, config, values, callback)
  }
  ;(client as unknown as { query: QueryFn }).query = named
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
