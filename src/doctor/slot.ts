import { sql } from 'kysely'
import { formatBytes } from '../format.ts'
import { slotStats } from '../replication/slot-stats.ts'
import { fail, pass, warn, type CheckResult, type DoctorContext } from './check.ts'

/** The slot: present, healthy, consumed, and not pinning more WAL than the threshold. */
export async function checkSlot(ctx: DoctorContext): Promise<CheckResult[]> {
  const slot = await slotStats(ctx.db, ctx.slot)
  if (slot === undefined) {
    const used = await sql<{ known: boolean }>`
      SELECT EXISTS (SELECT 1 FROM walcast.slots WHERE name = ${ctx.slot}) OR EXISTS (SELECT 1 FROM walcast.events) AS known`.execute(ctx.db).catch(() => undefined)
    if (used?.rows[0]?.known) {
      return [fail('slot.exists', `replication slot ${ctx.slot} is missing although walcast streamed from it (or the history holds events): changes since were never read`,
        'walcast slot create (records the gap so resuming clients get reset), or start walcast with WALCAST_SLOT_RECREATE=true')]
    }
    return [warn('slot.exists', `replication slot ${ctx.slot} does not exist yet (walcast creates it on first start)`, 'walcast slot create, or start walcast')]
  }
  const db = (await sql<{ db: string }>`SELECT current_database() AS db`.execute(ctx.db)).rows[0]!.db
  if (slot.plugin !== 'pgoutput' || slot.database !== db) {
    return [fail('slot.exists', `replication slot ${ctx.slot} belongs to plugin ${slot.plugin ?? 'none'} on database ${slot.database ?? 'none'}`,
      'slot names are unique per server: set another WALCAST_SLOT for this database')]
  }
  const results: CheckResult[] = [pass('slot.exists', `replication slot ${ctx.slot} exists (pgoutput, database ${db})`)]
  const retained = slot.retainedBytes ?? 0

  switch (slot.walStatus) {
    case 'lost':
      results.push(fail('slot.wal_status', 'wal_status = lost: Postgres removed WAL the slot still needed; walcast cannot continue from it',
        'restart walcast with WALCAST_SLOT_RECREATE=true (it replaces the slot and records the gap); raise max_slot_wal_keep_size'))
      break
    case 'unreserved':
      results.push(fail('slot.wal_status', `wal_status = unreserved: the slot is past max_slot_wal_keep_size and will be invalidated at the next checkpoint (${formatBytes(retained)} retained)`,
        'get walcast consuming now (walcast slot status, its logs), or raise max_slot_wal_keep_size and SELECT pg_reload_conf();'))
      break
    case 'extended':
      results.push(warn('slot.wal_status', `wal_status = extended: the slot holds WAL beyond max_wal_size (${formatBytes(retained)})`,
        'see docs/operations.md#when-lag-grows'))
      break
    default:
      results.push(pass('slot.wal_status', `wal_status = ${slot.walStatus ?? 'not reserved yet'}`))
  }

  results.push(slot.active
    ? pass('slot.activity', `active (walsender pid ${slot.activePid})`)
    : warn('slot.activity', `inactive: no walcast is streaming from it, and Postgres keeps WAL for it meanwhile (${formatBytes(retained)} so far)`,
      'start walcast; if walcast is retired, drop the slot: walcast slot drop --force'))

  results.push(retained > ctx.walWarnBytes
    ? warn('slot.lag', `retains ${formatBytes(retained)} of WAL, above WALCAST_WAL_WARN_BYTES (${formatBytes(ctx.walWarnBytes)}); ${formatBytes(slot.lagBytes ?? 0)} not yet confirmed`,
      'see docs/operations.md#when-lag-grows')
    : pass('slot.lag', `retains ${formatBytes(retained)} of WAL; ${formatBytes(slot.lagBytes ?? 0)} not yet confirmed`))
  return results
}
