import type { TestDatabase } from './db.ts'
import { waitFor } from './wait.ts'

/**
 * Drops `slot` from under a running walcast: terminates its walsender and drops the slot
 * before the supervisor reconnects (retrying when it got there first).
 */
export async function dropSlotUnderWalcast(tdb: TestDatabase, slot: string = tdb.slot): Promise<void> {
  await waitFor(async () => {
    await tdb.query('SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL', [slot])
    try {
      await tdb.query('SELECT pg_drop_replication_slot($1)', [slot])
      return true
    } catch {
      return false
    }
  }, 20_000, `slot ${slot} dropped`)
}

export interface SlotRow {
  active: boolean
  active_pid: number | null
  confirmed_flush_lsn: string
  restart_lsn: string
}

export async function slotRow(tdb: TestDatabase, slot: string = tdb.slot): Promise<SlotRow | undefined> {
  const result = await tdb.query<SlotRow>('SELECT active, active_pid, confirmed_flush_lsn::text, restart_lsn::text FROM pg_replication_slots WHERE slot_name = $1', [slot])
  return result.rows[0]
}

/** `a - b` in bytes, computed by Postgres. */
export async function lsnDiff(tdb: TestDatabase, a: string, b: string): Promise<number> {
  const result = await tdb.query<{ d: string }>('SELECT pg_wal_lsn_diff($1::pg_lsn, $2::pg_lsn)::bigint::text AS d', [a, b])
  return Number(result.rows[0]!.d)
}

export async function currentLsn(tdb: TestDatabase): Promise<string> {
  const result = await tdb.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')
  return result.rows[0]!.lsn
}

/**
 * The ingest reports `streaming` as it opens the replication connection; the walsender
 * holds the slot a moment later. Tests that need the slot held wait for this.
 */
export async function waitForActiveSlot(tdb: TestDatabase, slot: string = tdb.slot): Promise<SlotRow> {
  return waitFor(async () => {
    const row = await slotRow(tdb, slot)
    return row?.active ? row : undefined
  }, 15_000, `slot ${slot} active`)
}
