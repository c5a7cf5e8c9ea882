import { sql } from 'kysely'
import type { Db } from '../db/database.ts'

/** What a DBA needs to judge a slot: who holds it, where it is, and how much WAL it pins. */
export interface SlotStats {
  readonly name: string
  readonly slotType: string
  readonly plugin: string | null
  readonly database: string | null
  readonly active: boolean
  readonly activePid: number | null
  readonly confirmedFlushLsn: string | null
  readonly restartLsn: string | null
  /** reserved | extended | unreserved | lost (null for a slot that never reserved WAL). */
  readonly walStatus: string | null
  /** WAL the server keeps for this slot: pg_current_wal_lsn() − restart_lsn. */
  readonly retainedBytes: number | null
  /** How far the consumer is behind: pg_current_wal_lsn() − confirmed_flush_lsn. */
  readonly lagBytes: number | null
  /** Bytes that can still be written before the slot is invalidated (null: unlimited). */
  readonly safeWalSizeBytes: number | null
  readonly currentLsn: string
}

interface SlotRow {
  slot_name: string
  slot_type: string
  plugin: string | null
  database: string | null
  active: boolean
  active_pid: number | null
  confirmed_flush_lsn: string | null
  restart_lsn: string | null
  wal_status: string | null
  safe_wal_size: string | null
  retained: string | null
  lag: string | null
  current: string
}

const toNumber = (text: string | null): number | null => (text === null ? null : Number(text))

/** Every slot of the cluster (a forgotten slot of another database fills the same disk), or just `name`. */
export async function listSlots(db: Db, name?: string): Promise<SlotStats[]> {
  const result = await sql<SlotRow>`
    SELECT slot_name, slot_type, plugin, database, active, active_pid,
           confirmed_flush_lsn::text, restart_lsn::text, wal_status, safe_wal_size::text,
           pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint::text AS retained,
           pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint::text AS lag,
           pg_current_wal_lsn()::text AS current
    FROM pg_replication_slots
    WHERE ${name === undefined ? sql`true` : sql`slot_name = ${name}`}
    ORDER BY slot_name`.execute(db)
  return result.rows.map((row) => ({
    name: row.slot_name,
    slotType: row.slot_type,
    plugin: row.plugin,
    database: row.database,
    active: row.active,
    activePid: row.active_pid,
    confirmedFlushLsn: row.confirmed_flush_lsn,
    restartLsn: row.restart_lsn,
    walStatus: row.wal_status,
    retainedBytes: toNumber(row.retained),
    lagBytes: toNumber(row.lag),
    safeWalSizeBytes: toNumber(row.safe_wal_size),
    currentLsn: row.current,
  }))
}

export async function slotStats(db: Db, name: string): Promise<SlotStats | undefined> {
  return (await listSlots(db, name))[0]
}

/**
 * Seconds the walsender of `slot` reports its consumer behind (Postgres' own flush_lag,
 * measured from our standby status updates); 0 when caught up, undefined when no
 * walsender serves the slot.
 */
export async function replicationLagSeconds(db: Db, slot: string): Promise<number | undefined> {
  const result = await sql<{ lag: number | null }>`
    SELECT COALESCE(EXTRACT(epoch FROM r.flush_lag), 0)::float8 AS lag
    FROM pg_replication_slots s JOIN pg_stat_replication r ON r.pid = s.active_pid
    WHERE s.slot_name = ${slot}`.execute(db)
  const row = result.rows[0]
  return row === undefined ? undefined : Number(row.lag)
}
