import { sql } from 'kysely'
import { formatBytes } from '../format.ts'
import { fail, pass, warn, type CheckResult, type DoctorContext } from './check.ts'

const RESTART = 'then restart Postgres (on a managed service, set it in the parameter group and reboot)'

/** Server settings logical decoding needs, and the one that keeps a stuck slot from filling the disk. */
export async function checkSettings(ctx: DoctorContext): Promise<CheckResult[]> {
  const rows = await sql<{ name: string; setting: string }>`
    SELECT name, setting FROM pg_settings
    WHERE name IN ('wal_level', 'max_replication_slots', 'max_wal_senders', 'max_slot_wal_keep_size')`.execute(ctx.db)
  const setting = (name: string): string => rows.rows.find((r) => r.name === name)?.setting ?? ''
  const usage = await sql<{ slots: number; senders: number; ours: boolean; ours_active: boolean }>`
    SELECT (SELECT count(*)::int FROM pg_replication_slots) AS slots,
           (SELECT count(*)::int FROM pg_stat_replication) AS senders,
           EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = ${ctx.slot}) AS ours,
           EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = ${ctx.slot} AND active) AS ours_active`.execute(ctx.db)
  const used = usage.rows[0]!
  const results: CheckResult[] = []

  const walLevel = setting('wal_level')
  results.push(walLevel === 'logical'
    ? pass('settings.wal_level', 'wal_level = logical')
    : fail('settings.wal_level', `wal_level = ${walLevel}: logical decoding needs wal_level = logical`,
      `ALTER SYSTEM SET wal_level = 'logical'; ${RESTART} (RDS: rds.logical_replication = 1; Cloud SQL: cloudsql.logical_decoding = on)`))

  const maxSlots = Number(setting('max_replication_slots'))
  const slotsNeeded = used.slots + (used.ours ? 0 : 1)
  results.push(maxSlots >= slotsNeeded
    ? pass('settings.max_replication_slots', `max_replication_slots = ${maxSlots} (${used.slots} in use)`)
    : fail('settings.max_replication_slots', `max_replication_slots = ${maxSlots} with ${used.slots} in use: no room for walcast's slot`,
      `ALTER SYSTEM SET max_replication_slots = ${Math.max(10, slotsNeeded + 2)}; ${RESTART}`))

  const maxSenders = Number(setting('max_wal_senders'))
  const sendersNeeded = used.senders + (used.ours_active ? 0 : 1)
  results.push(maxSenders >= sendersNeeded
    ? pass('settings.max_wal_senders', `max_wal_senders = ${maxSenders} (${used.senders} in use)`)
    : fail('settings.max_wal_senders', `max_wal_senders = ${maxSenders} with ${used.senders} in use: walcast cannot open its replication connection`,
      `ALTER SYSTEM SET max_wal_senders = ${Math.max(10, sendersNeeded + 2)}; ${RESTART}`))

  // Reported in MB by pg_settings; -1 means a slot may hold back WAL without limit.
  const keepMb = Number(setting('max_slot_wal_keep_size'))
  const suggestion = `ALTER SYSTEM SET max_slot_wal_keep_size = '${Math.ceil((ctx.walWarnBytes * 4) / 2 ** 20)}MB'; SELECT pg_reload_conf();`
  if (keepMb < 0) {
    results.push(warn('settings.max_slot_wal_keep_size', 'max_slot_wal_keep_size = -1 (unlimited): a stopped or stuck consumer keeps WAL until the disk is full',
      `${suggestion} (a slot that falls further behind is invalidated instead; walcast records the gap)`))
  } else if (keepMb * 2 ** 20 <= ctx.walWarnBytes) {
    results.push(warn('settings.max_slot_wal_keep_size', `max_slot_wal_keep_size = ${formatBytes(keepMb * 2 ** 20)} is not above WALCAST_WAL_WARN_BYTES (${formatBytes(ctx.walWarnBytes)}): the slot would be invalidated before walcast warns`,
      `${suggestion} or lower WALCAST_WAL_WARN_BYTES`))
  } else {
    results.push(pass('settings.max_slot_wal_keep_size', `max_slot_wal_keep_size = ${formatBytes(keepMb * 2 ** 20)}`))
  }
  return results
}
