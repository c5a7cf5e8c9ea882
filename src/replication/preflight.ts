import { sql } from 'kysely'
import type { Db } from '../db/database.ts'
import { StartupError } from '../errors.ts'

/** Fails with a code and the exact fix when the server cannot feed walcast at all. */
export async function checkServerSettings(db: Db): Promise<void> {
  const wal = await sql<{ wal_level: string }>`SHOW wal_level`.execute(db)
  const level = wal.rows[0]?.wal_level
  if (level !== 'logical') {
    throw new StartupError('WAL_LEVEL_NOT_LOGICAL', `wal_level is ${level}; logical decoding needs wal_level = logical`, {
      hint: "run ALTER SYSTEM SET wal_level = 'logical'; then restart Postgres (or set it in postgresql.conf)",
    })
  }
  const role = await sql<{ rolname: string; rolreplication: boolean; rolsuper: boolean }>`
    SELECT rolname, rolreplication, rolsuper FROM pg_roles WHERE rolname = current_user`.execute(db)
  const me = role.rows[0]
  if (me !== undefined && !me.rolreplication && !me.rolsuper) {
    throw new StartupError('ROLE_LACKS_REPLICATION', `role ${me.rolname} lacks the REPLICATION attribute`, {
      hint: `run ALTER ROLE ${quoteIdent(me.rolname)} WITH REPLICATION; as a superuser (see sql/role.sql)`,
    })
  }
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

/** `public.escrows` → `"public"."escrows"` */
export function quoteQualified(table: string): string {
  const [schema, name] = table.split('.') as [string, string]
  return `${quoteIdent(schema)}.${quoteIdent(name)}`
}
