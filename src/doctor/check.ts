import type { Db } from '../db/database.ts'

export type CheckStatus = 'pass' | 'warn' | 'fail'

/** One finding: what was found and, unless it passed, the exact SQL or setting that fixes it. */
export interface CheckResult {
  /** Stable, for scripts and tests: `settings.wal_level`, `replica_identity.public.escrows`. */
  readonly id: string
  readonly status: CheckStatus
  readonly message: string
  readonly fix?: string
}

/** What the checks need to know about this walcast: its slice of the config and the domain. */
export interface DoctorContext {
  readonly db: Db
  readonly slot: string
  readonly publication: string
  /** Qualified tracked tables (registry.tables). */
  readonly tracked: readonly string[]
  readonly fullIdentity: readonly string[]
  readonly retentionMs: number
  readonly pruneIntervalMs: number
  readonly walWarnBytes: number
}

export type CheckGroup = (ctx: DoctorContext) => Promise<CheckResult[]>

export const pass = (id: string, message: string): CheckResult => ({ id, status: 'pass', message })
export const warn = (id: string, message: string, fix: string): CheckResult => ({ id, status: 'warn', message, fix })
export const fail = (id: string, message: string, fix: string): CheckResult => ({ id, status: 'fail', message, fix })
