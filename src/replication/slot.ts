import { sql } from 'kysely'
import type { Db } from '../db/database.ts'
import { StartupError } from '../errors.ts'
import { parseLsn } from '../event-id.ts'

export interface SlotInfo {
  readonly name: string
  readonly plugin: string | null
  readonly database: string | null
  readonly active: boolean
  readonly activePid: number | null
  readonly confirmedFlushLsn: bigint | null
  readonly restartLsn: bigint | null
  readonly walStatus: string | null
  /** Whether standbys with `sync_replication_slots = on` keep a copy (null before Postgres 17). */
  readonly failover: boolean | null
  /** A copy synchronized from the primary (true only on a standby, or on one promoted since). */
  readonly synced: boolean | null
}

/** Postgres 17 brought failover slots: a logical slot that standbys keep in sync, so it survives a promotion. */
export const FAILOVER_SLOTS_SINCE = 170000

export async function getSlot(db: Db, name: string): Promise<SlotInfo | undefined> {
  const result = await sql<{
    slot_name: string; plugin: string | null; database: string | null; active: boolean; active_pid: number | null
    confirmed_flush_lsn: string | null; restart_lsn: string | null; wal_status: string | null
    failover: boolean | null; synced: boolean | null
  }>`
    SELECT slot_name, plugin, database, active, active_pid, confirmed_flush_lsn::text, restart_lsn::text, wal_status,
           -- Read through jsonb: before Postgres 17 the columns do not exist.
           (to_jsonb(s) ->> 'failover')::boolean AS failover, (to_jsonb(s) ->> 'synced')::boolean AS synced
    FROM pg_replication_slots s WHERE slot_name = ${name}`.execute(db)
  const row = result.rows[0]
  if (row === undefined) return undefined
  return {
    name: row.slot_name,
    plugin: row.plugin,
    database: row.database,
    active: row.active,
    activePid: row.active_pid,
    confirmedFlushLsn: row.confirmed_flush_lsn === null ? null : parseLsn(row.confirmed_flush_lsn),
    restartLsn: row.restart_lsn === null ? null : parseLsn(row.restart_lsn),
    walStatus: row.wal_status,
    failover: row.failover,
    synced: row.synced,
  }
}

/** Whether this server can create failover slots: Postgres 17+, and a primary (a standby refuses them). */
export async function canCreateFailoverSlot(db: Db): Promise<boolean> {
  const result = await sql<{ version: number; standby: boolean }>`
    SELECT current_setting('server_version_num')::int AS version, pg_is_in_recovery() AS standby`.execute(db)
  const { version, standby } = result.rows[0]!
  return version >= FAILOVER_SLOTS_SINCE && !standby
}

/**
 * The one place walcast's slot is created (first start, `walcast slot create`, a
 * recreate). Where the server supports it the slot is a failover slot: a standby with
 * `sync_replication_slots = on` keeps a copy, and walcast pointed at it after a promotion
 * resumes where it was instead of recording a gap (docs/operations.md#failover).
 */
export async function createSlot(db: Db, name: string): Promise<SlotInfo> {
  // pg_create_logical_replication_slot(slot_name, plugin, temporary, twophase, failover)
  if (await canCreateFailoverSlot(db)) {
    await sql`SELECT pg_create_logical_replication_slot(${name}, 'pgoutput', false, false, true)`.execute(db)
  } else {
    await sql`SELECT pg_create_logical_replication_slot(${name}, 'pgoutput')`.execute(db)
  }
  return (await getSlot(db, name))!
}

/**
 * Returns the slot, creating it on first start. A slot that exists but belongs to another
 * database or plugin is refused: slot names are unique per cluster, not per database.
 */
export async function ensureSlot(db: Db, name: string): Promise<{ slot: SlotInfo; created: boolean }> {
  const existing = await getSlot(db, name)
  if (existing === undefined) {
    try {
      return { slot: await createSlot(db, name), created: true }
    } catch (err) {
      // Another instance created it between our look and our create.
      if ((err as { code?: string }).code === '42710') return { slot: (await getSlot(db, name))!, created: false }
      throw err
    }
  }
  const current = await sql<{ db: string }>`SELECT current_database() AS db`.execute(db)
  if (existing.plugin !== 'pgoutput' || existing.database !== current.rows[0]!.db) {
    throw new StartupError('SLOT_INVALID', `replication slot ${name} exists for plugin ${existing.plugin} on database ${existing.database}`, {
      hint: 'slot names are unique per server: choose another WALCAST_SLOT for this database, or drop the old slot',
    })
  }
  return { slot: existing, created: false }
}

export async function currentWalLsn(db: Db): Promise<bigint> {
  const result = await sql<{ lsn: string }>`SELECT pg_current_wal_lsn()::text AS lsn`.execute(db)
  return parseLsn(result.rows[0]!.lsn)
}
