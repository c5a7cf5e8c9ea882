import { sql } from 'kysely'
import { quoteIdent, quoteQualified } from '../replication/preflight.ts'
import { inspectPublication } from '../replication/publication.ts'
import { fail, pass, warn, type CheckResult, type DoctorContext } from './check.ts'

/**
 * The publication must carry exactly the tracked tables, with inserts, updates, deletes
 * and truncates: a truncate it does not publish empties a table with no message at all,
 * a silent gap (walcast records a gap for a truncate it sees).
 */
export async function checkPublication(ctx: DoctorContext): Promise<CheckResult[]> {
  const name = quoteIdent(ctx.publication)
  const state = await inspectPublication(ctx.db, ctx.publication, ctx.tracked)
  if (!state.exists) {
    return [fail('publication.exists', `publication ${ctx.publication} does not exist`,
      `CREATE PUBLICATION ${name} FOR TABLE ${ctx.tracked.map(quoteQualified).join(', ')}; (or walcast publication sync; walcast also creates it at start-up)`)]
  }
  const results: CheckResult[] = [pass('publication.exists', `publication ${ctx.publication} exists`)]
  if (state.missing.length > 0) {
    results.push(fail('publication.tables', `publication ${ctx.publication} lacks tracked table(s) ${state.missing.join(', ')}: their changes never reach walcast`,
      `ALTER PUBLICATION ${name} ADD TABLE ${state.missing.map(quoteQualified).join(', ')}; (or walcast publication sync)`))
  } else if (state.extra.length > 0) {
    results.push(warn('publication.tables', `publication ${ctx.publication} also carries untracked table(s) ${state.extra.join(', ')}: decoded and thrown away`,
      `ALTER PUBLICATION ${name} DROP TABLE ${state.extra.map(quoteQualified).join(', ')}; (or walcast publication sync)`))
  } else {
    results.push(pass('publication.tables', `publication ${ctx.publication} carries exactly the ${ctx.tracked.length} tracked tables`))
  }
  const ops = (await sql<{ pubinsert: boolean; pubupdate: boolean; pubdelete: boolean; pubtruncate: boolean }>`
    SELECT pubinsert, pubupdate, pubdelete, pubtruncate FROM pg_publication WHERE pubname = ${ctx.publication}`.execute(ctx.db)).rows[0]!
  const lacking = (['insert', 'update', 'delete', 'truncate'] as const).filter((op) => !ops[`pub${op}`])
  results.push(lacking.length === 0
    ? pass('publication.operations', 'publishes inserts, updates, deletes and truncates')
    : fail('publication.operations', `publication ${ctx.publication} does not publish ${lacking.join(', ')}`,
      `ALTER PUBLICATION ${name} SET (publish = 'insert, update, delete, truncate');`))
  return results
}
