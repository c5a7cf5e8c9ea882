import { sql } from 'kysely'
import { fail, pass, type CheckResult, type DoctorContext } from './check.ts'

const IDENTITY: Record<string, string> = { d: 'DEFAULT', f: 'FULL', n: 'NOTHING', i: 'USING INDEX' }

/**
 * FULL where a mapper needs the old row (status transitions, deleted parties); anything
 * else needs at least a usable identity, or Postgres refuses UPDATE and DELETE on a
 * published table outright.
 */
export async function checkReplicaIdentity(ctx: DoctorContext): Promise<CheckResult[]> {
  const rows = await sql<{ t: string; ident: string | null; has_pk: boolean | null }>`
    SELECT t, c.relreplident AS ident,
           EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS has_pk
    FROM unnest(${[...ctx.tracked]}::text[]) AS t LEFT JOIN pg_class c ON c.oid = to_regclass(t)
    ORDER BY t`.execute(ctx.db)
  return rows.rows.map((row) => {
    const id = `replica_identity.${row.t}`
    if (row.ident === null) return fail(id, `${row.t} does not exist`, 'walcast migrate, or create the table')
    const current = IDENTITY[row.ident] ?? row.ident
    if (ctx.fullIdentity.includes(row.t)) {
      return row.ident === 'f'
        ? pass(id, `${row.t}: REPLICA IDENTITY FULL`)
        : fail(id, `${row.t}: REPLICA IDENTITY ${current}, but walcast needs the full old row to tell transitions and deletes`, `ALTER TABLE ${row.t} REPLICA IDENTITY FULL;`)
    }
    if (row.ident === 'n' || (row.ident === 'd' && !row.has_pk)) {
      return fail(id, `${row.t}: REPLICA IDENTITY ${current}${row.ident === 'd' ? ' without a primary key' : ''}: Postgres rejects UPDATE and DELETE on it while it is published`,
        `ALTER TABLE ${row.t} REPLICA IDENTITY FULL; (or add a primary key)`)
    }
    return pass(id, `${row.t}: REPLICA IDENTITY ${current}`)
  })
}
