import { sql } from 'kysely'
import { quoteIdent } from '../replication/preflight.ts'
import { fail, pass, type CheckResult, type DoctorContext } from './check.ts'

/** What walcast writes in its own schema, table by table. */
const WALCAST_TABLES: ReadonlyArray<[string, string]> = [
  ['walcast.events', 'SELECT, INSERT, DELETE'],
  ['walcast.event_topics', 'SELECT, INSERT, DELETE'],
  ['walcast.horizon', 'SELECT, INSERT, UPDATE'],
  ['walcast.gaps', 'SELECT, INSERT'],
  ['walcast.slots', 'SELECT, INSERT'],
  ['walcast.migrations', 'SELECT'],
]

/** The role walcast connects as: REPLICATION, read on the tracked tables, write on its schema. */
export async function checkRole(ctx: DoctorContext): Promise<CheckResult[]> {
  const me = (await sql<{ name: string; replication: boolean; superuser: boolean }>`
    SELECT rolname AS name, rolreplication AS replication, rolsuper AS superuser
    FROM pg_roles WHERE rolname = current_user`.execute(ctx.db)).rows[0]!
  const role = quoteIdent(me.name)
  const results: CheckResult[] = []

  results.push(me.replication || me.superuser
    ? pass('role.replication', `role ${me.name} may stream changes (${me.superuser ? 'superuser; a least-privilege role is safer: sql/role.sql' : 'REPLICATION'})`)
    : fail('role.replication', `role ${me.name} lacks the REPLICATION attribute: it cannot open a replication connection`,
      `ALTER ROLE ${role} WITH REPLICATION; (as a superuser; see sql/role.sql)`))

  // Looked up through the catalogs: to_regclass() itself fails without USAGE on the schema.
  const tracked = await sql<{ t: string; present: boolean; allowed: boolean | null }>`
    SELECT t, c.oid IS NOT NULL AS present, CASE WHEN c.oid IS NULL THEN NULL ELSE has_table_privilege(c.oid, 'SELECT') END AS allowed
    FROM unnest(${[...ctx.tracked]}::text[]) AS t
    LEFT JOIN pg_namespace n ON n.nspname = split_part(t, '.', 1)
    LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = split_part(t, '.', 2)
    ORDER BY t`.execute(ctx.db)
  const absent = tracked.rows.filter((r) => !r.present).map((r) => r.t)
  const unreadable = tracked.rows.filter((r) => r.present && !r.allowed).map((r) => r.t)
  if (absent.length > 0) {
    results.push(fail('role.tracked_tables', `tracked table(s) ${absent.join(', ')} do not exist in this database`,
      'create the catalog\'s tables first (walcast migrate applies the selected catalog\'s schema), or point DATABASE_URL at the right database'))
  } else if (unreadable.length > 0) {
    results.push(fail('role.tracked_tables', `role ${me.name} cannot SELECT ${unreadable.join(', ')}`,
      `GRANT SELECT ON ${unreadable.join(', ')} TO ${role};`))
  } else {
    results.push(pass('role.tracked_tables', `role ${me.name} can read the ${ctx.tracked.length} tracked tables`))
  }

  const schema = (await sql<{ present: boolean; usage: boolean | null }>`
    SELECT to_regnamespace('walcast') IS NOT NULL AS present,
           CASE WHEN to_regnamespace('walcast') IS NULL THEN NULL ELSE has_schema_privilege('walcast', 'USAGE') END AS usage`.execute(ctx.db)).rows[0]!
  if (!schema.present) {
    results.push(fail('role.walcast_schema', 'schema walcast does not exist', 'walcast migrate (as the schema owner), or psql -f sql/001_walcast_schema.sql'))
  } else {
    const lacking: string[] = []
    if (!schema.usage) lacking.push('USAGE on schema walcast')
    for (const [table, privileges] of WALCAST_TABLES) {
      // has_table_privilege with a list is true when ANY is held: ask one at a time.
      const row = (await sql<{ oid: number | null; missing: string[] | null }>`
        SELECT c.oid, CASE WHEN c.oid IS NULL THEN NULL ELSE
                 ARRAY(SELECT p FROM unnest(string_to_array(${privileges}, ', ')) AS p WHERE NOT has_table_privilege(c.oid, p))
               END AS missing
        FROM (SELECT 1) AS one
        LEFT JOIN pg_class c ON c.relnamespace = 'walcast'::regnamespace AND c.relname = split_part(${table}, '.', 2)`.execute(ctx.db)).rows[0]!
      if (row.oid === null) lacking.push(`${table} (missing: run walcast migrate)`)
      else if (row.missing!.length > 0) lacking.push(`${row.missing!.join(', ')} on ${table}`)
    }
    results.push(lacking.length === 0
      ? pass('role.walcast_schema', `role ${me.name} can write the walcast schema`)
      : fail('role.walcast_schema', `role ${me.name} lacks ${lacking.join('; ')}`,
        `GRANT USAGE ON SCHEMA walcast TO ${role}; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA walcast TO ${role}; GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA walcast TO ${role};`))
  }

  const heartbeat = (await sql<{ ok: boolean }>`
    SELECT coalesce(bool_or(has_function_privilege(oid, 'EXECUTE')), false) AS ok
    FROM pg_proc WHERE proname = 'pg_logical_emit_message'`.execute(ctx.db)).rows[0]!
  results.push(heartbeat.ok
    ? pass('role.heartbeat', 'the role can emit heartbeats (pg_logical_emit_message)')
    : fail('role.heartbeat', `role ${me.name} cannot execute pg_logical_emit_message: the slot will not advance while the tracked tables are idle`,
      `GRANT EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, text) TO ${role};`))
  return results
}
