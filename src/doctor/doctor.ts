import { sql } from 'kysely'
import { coerceError } from '../errors.ts'
import { pass, type CheckGroup, type CheckResult, type DoctorContext } from './check.ts'
import { checkFailover } from './failover.ts'
import { checkHistory } from './history.ts'
import { checkPublication } from './publication.ts'
import { checkReplicaIdentity } from './replica-identity.ts'
import { checkRole } from './role.ts'
import { checkSettings } from './settings.ts'
import { checkSlot } from './slot.ts'

export interface DoctorSection {
  readonly name: string
  readonly checks: readonly CheckResult[]
}

export interface DoctorReport {
  /** true only when every check passed. */
  readonly ok: boolean
  readonly counts: { readonly pass: number; readonly warn: number; readonly fail: number }
  readonly sections: readonly DoctorSection[]
}

export const SECTIONS: ReadonlyArray<[string, CheckGroup]> = [
  ['server settings', checkSettings],
  ['role', checkRole],
  ['publication', checkPublication],
  ['replica identity', checkReplicaIdentity],
  ['replication slot', checkSlot],
  ['failover', checkFailover],
  ['history', checkHistory],
]

/** What describes the primary's slot and history; a standby's copy of them is judged by the failover checks. */
const PRIMARY_ONLY = new Set(['replication slot', 'history'])

/** Runs every check group; one that cannot even run is itself a failed check. */
export async function runDoctor(ctx: DoctorContext): Promise<DoctorReport> {
  // Pointed at a standby, doctor answers the failover question: is it ready to be promoted?
  const standby = (await sql<{ standby: boolean }>`SELECT pg_is_in_recovery() AS standby`.execute(ctx.db)).rows[0]!.standby
  const sections: DoctorSection[] = []
  for (const [name, group] of SECTIONS) {
    if (standby && PRIMARY_ONLY.has(name)) {
      sections.push({ name, checks: [pass(`${name.replaceAll(' ', '_')}.standby`, 'this server is a standby: checked on the primary')] })
      continue
    }
    let checks: CheckResult[]
    try {
      checks = await group(ctx)
    } catch (err) {
      checks = [{ id: `${name.replaceAll(' ', '_')}.error`, status: 'fail', message: `could not check: ${coerceError(err).message}`, fix: 'fix the error above and run walcast doctor again' }]
    }
    sections.push({ name, checks })
  }
  const all = sections.flatMap((s) => s.checks)
  const counts = {
    pass: all.filter((c) => c.status === 'pass').length,
    warn: all.filter((c) => c.status === 'warn').length,
    fail: all.filter((c) => c.status === 'fail').length,
  }
  return { ok: counts.warn === 0 && counts.fail === 0, counts, sections }
}
