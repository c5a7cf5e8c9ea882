import fs from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { sql } from 'kysely'
import type { Db } from './database.ts'
import { WalcastError } from '../errors.ts'

export const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url))
const NUMBERED = /^\d{3}_[a-z0-9_]+\.sql$/

export interface MigrationResult {
  readonly applied: string[]
  readonly skipped: string[]
}

/** Numbered files of sql/, in order. Unnumbered files (role.sql, publication.sql) are for DBAs. */
export async function listMigrations(dir: string = SQL_DIR): Promise<string[]> {
  return (await fs.readdir(dir)).filter((name) => NUMBERED.test(name)).sort()
}

/**
 * Applies each numbered file once, in order, in its own transaction, and records it in
 * walcast.migrations. An advisory lock keeps two starting instances from racing.
 */
export async function migrate(db: Db, dir: string = SQL_DIR): Promise<MigrationResult> {
  const files = await listMigrations(dir)
  return db.connection().execute(async (conn) => {
    await sql`SELECT pg_advisory_lock(hashtext('walcast.migrate'))`.execute(conn)
    try {
      // Even IF NOT EXISTS needs CREATE on the database: a least-privilege role
      // (sql/role.sql) has the schema made for it, so only create what is missing.
      const present = await sql<{ schema: boolean; table: boolean }>`
        SELECT to_regnamespace('walcast') IS NOT NULL AS schema, to_regclass('walcast.migrations') IS NOT NULL AS table`.execute(conn)
      if (!present.rows[0]!.schema) await sql`CREATE SCHEMA walcast`.execute(conn)
      if (!present.rows[0]!.table) await sql`CREATE TABLE walcast.migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`.execute(conn)
      const done = new Set((await conn.selectFrom('walcast.migrations').select('name').execute()).map((r) => r.name))
      // A newer walcast changed the schema under this one (a rollback, or an old node
      // restarted mid-upgrade): it would read and write tables whose meaning it does not
      // know (after sql/007 an older node serves old rows with a null `data`). Refuse.
      // (A file unknown here but older than this walcast's newest was retired, not added.)
      const newest = files[files.length - 1] ?? ''
      const newer = [...done].filter((name) => NUMBERED.test(name) && name > newest).sort()
      if (newer.length > 0) {
        throw new WalcastError('SCHEMA_NEWER', `the database's walcast schema is newer than this walcast: ${newer.join(', ')} applied, not known here`, {
          hint: 'run the walcast version that applied them, or a newer one; docs/operations.md (upgrades) says why an older node must not run on a newer schema',
        })
      }
      const applied: string[] = []
      const skipped: string[] = []
      for (const file of files) {
        if (done.has(file)) {
          skipped.push(file)
          continue
        }
        const text = await fs.readFile(path.join(dir, file), 'utf8')
        try {
          await conn.transaction().execute(async (trx) => {
            await sql.raw(text).execute(trx)
            await trx.insertInto('walcast.migrations').values({ name: file }).execute()
          })
        } catch (err) {
          throw new WalcastError('MIGRATION_FAILED', `migration ${file} failed: ${(err as Error).message}`, {
            cause: err,
            hint: `apply sql/${file} by hand with psql -f to see the full error; the role needs CREATE on the database`,
          })
        }
        applied.push(file)
      }
      return { applied, skipped }
    } finally {
      await sql`SELECT pg_advisory_unlock(hashtext('walcast.migrate'))`.execute(conn)
    }
  })
}
