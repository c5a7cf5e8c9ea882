import { sql } from 'kysely'
import type { Db } from '../db/database.ts'
import { StartupError, WalcastError, sqlState } from '../errors.ts'
import type { HistoryStore } from '../history/store.ts'
import { createSlot, getSlot, type SlotInfo } from './slot.ts'

export interface CreatedSlot {
  readonly slot: SlotInfo
  /** The range recorded as lost, when the history already held events. */
  readonly gap: { afterLsn: bigint; untilLsn: bigint } | undefined
}

/**
 * Creates the slot for `walcast slot create`. A new slot starts at the current WAL
 * position: when the history already holds events, whatever was committed between the
 * last of them and now was never read, so a gap is recorded and every resume from before
 * it gets `reset`. `assumeNoWrites` is for a DBA who stopped every writer (an upgrade).
 */
export async function createSlotRecordingGap(db: Db, history: HistoryStore, name: string, assumeNoWrites = false, reason = 'slot_created'): Promise<CreatedSlot> {
  if (await getSlot(db, name) !== undefined) {
    throw new WalcastError('SLOT_EXISTS', `replication slot ${name} already exists`, {
      hint: 'walcast slot status shows it; drop it first (walcast slot drop --force) to start over',
    })
  }
  // Read first: a missing history table must fail before a slot starts pinning WAL.
  const last = await history.lastId()
  let slot: SlotInfo
  try {
    slot = await createSlot(db, name)
  } catch (err) {
    if (sqlState(err) === '55000' && /wal_level/i.test((err as Error).message)) {
      throw new StartupError('WAL_LEVEL_NOT_LOGICAL', 'logical replication slots need wal_level = logical', {
        cause: err,
        hint: "run ALTER SYSTEM SET wal_level = 'logical'; then restart Postgres",
      })
    }
    throw err
  }
  if (last === undefined || assumeNoWrites) return { slot, gap: undefined }
  // In id space: ids are commit LSNs plus the offset of the epoch in force.
  const gap = { afterLsn: last.lsn, untilLsn: (slot.confirmedFlushLsn ?? 0n) + (await history.idOffset()) }
  await history.recordGap(gap.afterLsn, gap.untilLsn, reason)
  return { slot, gap }
}

/**
 * Drops an inactive slot. An active slot is never dropped: Postgres itself refuses while
 * a walsender holds it, which also closes the race with a walcast that takes it over
 * between our look and the drop.
 */
export async function dropSlot(db: Db, name: string): Promise<void> {
  try {
    await sql`SELECT pg_drop_replication_slot(${name})`.execute(db)
  } catch (err) {
    if (sqlState(err) === '55006') throw slotActiveError(name, undefined, err)
    if (sqlState(err) === '42704') throw slotMissingError(name)
    throw err
  }
}

export function slotActiveError(name: string, pid: number | null | undefined, cause?: unknown): WalcastError {
  return new WalcastError('SLOT_ACTIVE', `replication slot ${name} is active${pid ? ` (walsender pid ${pid})` : ''}; an active slot is never dropped`, {
    cause,
    hint: 'stop the walcast that streams from it first (walcast slot status shows the pid), then run walcast slot drop --force',
  })
}

export function slotMissingError(name: string): WalcastError {
  return new WalcastError('SLOT_MISSING', `replication slot ${name} does not exist`, {
    hint: 'walcast slot status lists the slots; WALCAST_SLOT names the one walcast uses',
  })
}

/** Notes that walcast streams from `name` (walcast.slots): from now on, its absence is a loss. */
export async function rememberSlot(db: Db, name: string): Promise<void> {
  await sql`INSERT INTO walcast.slots (name) VALUES (${name}) ON CONFLICT (name) DO NOTHING`.execute(db)
}

/** Whether walcast has streamed from `name` before (so a missing slot means lost changes). */
export async function isKnownSlot(db: Db, name: string): Promise<boolean> {
  const result = await sql<{ known: boolean }>`SELECT EXISTS (SELECT 1 FROM walcast.slots WHERE name = ${name}) AS known`.execute(db)
  return result.rows[0]!.known
}
