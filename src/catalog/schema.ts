import fs from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { sql } from 'kysely'
import type { Db } from '../db/database.ts'
import { WalcastError } from '../errors.ts'
import type { Catalog } from './catalog.ts'

/** `applied`: the catalog's SQL ran; `present`: its tables exist and were left alone; `none`: it has no SQL. */
export type CatalogSchemaResult = 'applied' | 'present' | 'none'

/**
 * The catalog's own tables, outside walcast's migration chain. Most often walcast reads an
 * existing application's database: when every tracked table exists, nothing is run (a
 * least-privilege role could not, and the application owns them). Otherwise the catalog's
 * idempotent SQL is applied in one transaction, under the lock walcast migrate holds.
 * Databases migrated before catalogs existed recorded the escrow SQL as
 * `002_escrow_domain.sql` in walcast.migrations: its tables exist, so nothing runs, and
 * the ledger row is only history.
 */
export async function ensureCatalogSchema(db: Db, catalog: Catalog): Promise<CatalogSchemaResult> {
  const tables = catalog.tables.map((t) => t.table)
  const missing = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM unnest(${tables}::text[]) AS t
    WHERE NOT EXISTS (
      SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = split_part(t, '.', 1) AND c.relname = split_part(t, '.', 2))`.execute(db)
  if (missing.rows[0]!.n === 0) return 'present'
  if (catalog.schema === undefined) return 'none'
  const file = fileURLToPath(catalog.schema)
  const text = await fs.readFile(file, 'utf8')
  await db.connection().execute(async (conn) => {
    await sql`SELECT pg_advisory_lock(hashtext('walcast.migrate'))`.execute(conn)
    try {
      await conn.transaction().execute((trx) => sql.raw(text).execute(trx))
    } catch (err) {
      throw new WalcastError('MIGRATION_FAILED', `catalog ${catalog.name}: its schema ${file} failed: ${(err as Error).message}`, {
        cause: err,
        hint: `apply it by hand with psql -f ${file} to see the full error; the role needs CREATE on the schema`,
      })
    } finally {
      await sql`SELECT pg_advisory_unlock(hashtext('walcast.migrate'))`.execute(conn)
    }
  })
  return 'applied'
}
