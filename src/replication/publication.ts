import { sql } from 'kysely'
import type { Db } from '../db/database.ts'
import { StartupError } from '../errors.ts'
import type { Logger } from '../log.ts'
import { quoteIdent, quoteQualified } from './preflight.ts'

export interface PublicationState {
  readonly exists: boolean
  readonly tables: string[]
  readonly missing: string[]
  readonly extra: string[]
}

export async function inspectPublication(db: Db, name: string, tracked: readonly string[]): Promise<PublicationState> {
  const pub = await sql<{ pubname: string }>`SELECT pubname FROM pg_publication WHERE pubname = ${name}`.execute(db)
  if (pub.rows.length === 0) return { exists: false, tables: [], missing: [...tracked], extra: [] }
  const rows = await sql<{ t: string }>`
    SELECT schemaname || '.' || tablename AS t FROM pg_publication_tables WHERE pubname = ${name} ORDER BY 1`.execute(db)
  const tables = rows.rows.map((r) => r.t)
  return {
    exists: true,
    tables,
    missing: tracked.filter((t) => !tables.includes(t)),
    extra: tables.filter((t) => !tracked.includes(t)),
  }
}

/**
 * Creates the publication when it is missing. An existing one that lacks a tracked table
 * is a start-up error, not something to fix silently: a DBA owns it.
 */
export async function ensurePublication(db: Db, name: string, tracked: readonly string[], log: Logger): Promise<void> {
  const state = await inspectPublication(db, name, tracked)
  if (!state.exists) {
    await sql.raw(`CREATE PUBLICATION ${quoteIdent(name)} FOR TABLE ${tracked.map(quoteQualified).join(', ')}`).execute(db)
    log.info({ publication: name, tables: tracked }, 'created publication')
    return
  }
  if (state.missing.length > 0) {
    throw new StartupError('PUBLICATION_INCOMPLETE', `publication ${name} lacks tracked table(s) ${state.missing.join(', ')}`, {
      hint: `run ALTER PUBLICATION ${quoteIdent(name)} ADD TABLE ${state.missing.map(quoteQualified).join(', ')}; (or npx walcast publication sync)`,
    })
  }
  if (state.extra.length > 0) {
    log.warn({ publication: name, extra: state.extra }, 'publication has tables walcast does not track; their changes are decoded and ignored')
  }
}

/** Adds missing tracked tables and drops untracked ones (`walcast publication sync`). */
export async function syncPublication(db: Db, name: string, tracked: readonly string[]): Promise<PublicationState> {
  const state = await inspectPublication(db, name, tracked)
  if (!state.exists) {
    await sql.raw(`CREATE PUBLICATION ${quoteIdent(name)} FOR TABLE ${tracked.map(quoteQualified).join(', ')}`).execute(db)
  } else {
    if (state.missing.length > 0) await sql.raw(`ALTER PUBLICATION ${quoteIdent(name)} ADD TABLE ${state.missing.map(quoteQualified).join(', ')}`).execute(db)
    if (state.extra.length > 0) await sql.raw(`ALTER PUBLICATION ${quoteIdent(name)} DROP TABLE ${state.extra.map(quoteQualified).join(', ')}`).execute(db)
  }
  return state
}
