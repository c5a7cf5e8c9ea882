import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { Test } from 'tap'
import { loadConfig, type Config } from '../../src/config.ts'
import { createDatabase, type Database } from '../../src/db/database.ts'
import { migrate } from '../../src/db/migrate.ts'
import { ensureCatalogSchema } from '../../src/catalog/schema.ts'
import { ensurePublication } from '../../src/replication/publication.ts'
import { escrowCatalog } from '../../src/catalogs/escrow/index.ts'
import { createCatalogRegistry } from '../../src/catalog/registry.ts'
import { silentLogger } from './log.ts'

/** The server `npm test` started (or the one named by TEST_DATABASE_URL). */
export function adminUrl(): string {
  const url = process.env.TEST_DATABASE_URL
  if (!url) throw new Error('TEST_DATABASE_URL is not set: run the suite with npm test')
  return url
}

export function urlForDatabase(name: string, base: string = adminUrl()): string {
  const url = new URL(base)
  url.pathname = `/${name}`
  return url.toString()
}

export interface TestDatabase {
  readonly name: string
  readonly url: string
  /** Unique per test database: slot names are cluster-wide. */
  readonly slot: string
  readonly publication: string
  readonly database: Database
  /** Runs SQL on a fresh connection of its own (as an application would). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>
  /** Config for a walcast on this database; `env` adds or overrides variables. */
  config(env?: Record<string, string>): Config
}

export interface TestDatabaseOptions {
  /** Apply sql/ and create the publication (default true). */
  prepared?: boolean
}

/** A fresh database for one test file, dropped with its slots at teardown. */
export async function createTestDatabase(t: Test, options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const suffix = randomBytes(5).toString('hex')
  const name = `walcast_test_${suffix}`
  const admin = new pg.Client({ connectionString: adminUrl() })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = urlForDatabase(name)
  const database = createDatabase({ url, poolSize: 4, applicationName: 'walcast-test' })
  const slot = `ws_${suffix}`
  const publication = 'walcast'
  if (options.prepared !== false) {
    await migrate(database.db)
    await ensureCatalogSchema(database.db, escrowCatalog)
    await ensurePublication(database.db, publication, createCatalogRegistry(escrowCatalog).tables, silentLogger())
  }
  const pool = new pg.Pool({ connectionString: url, max: 4 })
  pool.on('error', () => {})
  t.teardown(async () => {
    await pool.end().catch(() => {})
    await database.close().catch(() => {})
    await dropDatabase(name)
  })
  return {
    name,
    url,
    slot,
    publication,
    database,
    query: (text, values) => pool.query(text, values as unknown[]),
    config: (env = {}) => loadConfig({
      DATABASE_URL: url,
      WALCAST_SLOT: slot,
      WALCAST_PUBLICATION: publication,
      WALCAST_LOG_LEVEL: 'silent',
      WALCAST_STATUS_INTERVAL: '1s',
      WALCAST_TAKEOVER_RETRY: '300ms',
      WALCAST_PORT: '0',
      ...env,
    }),
  }
}

/** Drops the database and every slot on it, even one still held by a dying walsender. */
export async function dropDatabase(name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl() })
  await admin.connect()
  try {
    for (let i = 0; i < 50; i++) {
      await admin.query('SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = $1 AND active_pid IS NOT NULL', [name])
      const slots = await admin.query<{ slot_name: string }>('SELECT slot_name FROM pg_replication_slots WHERE database = $1 AND NOT active', [name])
      for (const row of slots.rows) await admin.query('SELECT pg_drop_replication_slot($1)', [row.slot_name]).catch(() => {})
      const left = await admin.query('SELECT 1 FROM pg_replication_slots WHERE database = $1', [name])
      if (left.rowCount === 0) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  } finally {
    await admin.end()
  }
}
