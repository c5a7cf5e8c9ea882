import { sql } from 'kysely'
import type { Db } from '../db/database.ts'
import { FAILOVER_SLOTS_SINCE } from '../replication/slot.ts'
import { fail, pass, warn, type CheckResult, type DoctorContext } from './check.ts'

const RELOAD = 'SELECT pg_reload_conf();'
const RUNBOOK = 'docs/operations.md#failover'

interface Server {
  readonly version: number
  readonly standby: boolean
  readonly database: string
  /** pg_settings as this role may read them (primary_conninfo is hidden without pg_read_all_settings). */
  readonly settings: ReadonlyMap<string, string>
}

interface PhysicalSlot {
  readonly name: string
  readonly active: boolean
  /** hot_standby_feedback shows on the primary as an xmin on the standby's physical slot. */
  readonly feedback: boolean
}

/**
 * Whether walcast's slot survives promoting a standby (failover slots, Postgres 17+).
 * Part of it is visible only on the primary (the slot's flag, who streams from it), part
 * only on a standby (the synced copy, its settings): the checks follow the server doctor is
 * pointed at.
 */
export async function checkFailover(ctx: DoctorContext): Promise<CheckResult[]> {
  const server = await readServer(ctx.db)
  if (server.standby) return checkStandby(ctx, server)
  const standbys = await physicalStandbys(ctx.db)
  if (server.version < FAILOVER_SLOTS_SINCE) return [olderServer(server, standbys), checkStandbys(ctx, standbys)]
  const results = [await checkPrimarySlot(ctx, server), checkStandbys(ctx, standbys)]
  if (standbys.slots.length > 0) results.push(checkFeedback(standbys.slots))
  results.push(checkSynchronizedStandbySlots(server, standbys.slots))
  if (standbys.slots.length > 0 || synchronousNames(server).length > 0) results.push(checkSynchronousCommit(ctx, server, standbys))
  return results
}

async function readServer(db: Db): Promise<Server> {
  const row = (await sql<{ version: number; standby: boolean; database: string }>`
    SELECT current_setting('server_version_num')::int AS version, pg_is_in_recovery() AS standby, current_database() AS database`.execute(db)).rows[0]!
  const rows = await sql<{ name: string; setting: string }>`
    SELECT name, setting FROM pg_settings
    WHERE name IN ('synchronized_standby_slots', 'sync_replication_slots', 'hot_standby_feedback', 'primary_slot_name',
                   'primary_conninfo', 'synchronous_standby_names', 'synchronous_commit')`.execute(db)
  return { ...row, settings: new Map(rows.rows.map((r) => [r.name, r.setting ?? ''])) }
}

interface Standbys {
  readonly slots: PhysicalSlot[]
  /** Standbys streaming without a physical slot. */
  readonly withoutSlot: number
  /** The application_name of every streaming standby (what synchronous_standby_names matches). */
  readonly names: string[]
}

async function physicalStandbys(db: Db): Promise<Standbys> {
  const slots = await sql<PhysicalSlot>`
    SELECT slot_name AS name, active, (xmin IS NOT NULL OR catalog_xmin IS NOT NULL) AS feedback
    FROM pg_replication_slots WHERE slot_type = 'physical' ORDER BY slot_name`.execute(db)
  // Every logical walsender holds a logical slot; the other walsenders stream WAL to standbys.
  // Without pg_read_all_stats only pid and application_name of a walsender are visible: enough.
  const senders = await sql<{ name: string; slotted: boolean }>`
    SELECT r.application_name AS name, s.slot_name IS NOT NULL AS slotted
    FROM pg_stat_replication r LEFT JOIN pg_replication_slots s ON s.active_pid = r.pid
    WHERE s.slot_type IS DISTINCT FROM 'logical'`.execute(db)
  return { slots: slots.rows, withoutSlot: senders.rows.filter((r) => !r.slotted).length, names: senders.rows.map((r) => r.name) }
}

function major(version: number): number {
  return Math.floor(version / 10000)
}

function olderServer(server: Server, standbys: Standbys): CheckResult {
  const message = `Postgres ${major(server.version)} has no failover slots (they came in Postgres 17)`
  return standbys.slots.length + standbys.withoutSlot === 0
    ? pass('failover.slot', message)
    : warn('failover.slot', `${message}: a standby keeps no copy of walcast's slot, so after promoting one walcast finds its slot missing, records a gap and clients get reset`,
      `upgrade to Postgres 17 or later for failover slots (${RUNBOOK})`)
}

async function checkPrimarySlot(ctx: DoctorContext, server: Server): Promise<CheckResult> {
  const slot = (await sql<{ failover: boolean }>`
    SELECT failover FROM pg_replication_slots WHERE slot_name = ${ctx.slot} AND slot_type = 'logical'`.execute(ctx.db)).rows[0]
  if (slot === undefined) return pass('failover.slot', `walcast creates slot ${ctx.slot} with failover = true`)
  if (slot.failover) return pass('failover.slot', `slot ${ctx.slot} has failover = true: a standby with sync_replication_slots = on keeps a copy of it`)
  return warn('failover.slot', `slot ${ctx.slot} has failover = false: no standby keeps a copy of it, so after promoting one walcast finds its slot missing, records a gap and clients get reset`,
    // Postgres waits for the slot to be released before it alters it.
    `stop walcast, then psql "dbname=${server.database} replication=database" -c 'ALTER_REPLICATION_SLOT ${ctx.slot} ( FAILOVER true )' (no gap); or walcast slot drop --force and walcast slot create (records a gap)`)
}

function checkStandbys(ctx: DoctorContext, standbys: Standbys): CheckResult {
  const streaming = standbys.slots.filter((s) => s.active).map((s) => s.name)
  const idle = standbys.slots.filter((s) => !s.active).map((s) => s.name)
  if (standbys.slots.length === 0 && standbys.withoutSlot === 0) {
    // A single server is a legitimate setup: said, not warned about (doctor stays green).
    return pass('failover.standby', `no physical standby streams from this server: if it is lost, walcast's slot is lost with it (walcast then records a gap and clients get reset); for a failover without a gap see ${RUNBOOK}`)
  }
  if (standbys.withoutSlot > 0) {
    return warn('failover.standby', `${standbys.withoutSlot} standby(s) stream without a physical slot: slot synchronization needs primary_slot_name`,
      `SELECT pg_create_physical_replication_slot('standby1'); then on that standby: ALTER SYSTEM SET primary_slot_name = 'standby1'; ${RELOAD}`)
  }
  if (idle.length > 0) {
    return warn('failover.standby', `physical slot(s) ${idle.join(', ')} have no standby streaming${streaming.length > 0 ? ` (${streaming.join(', ')} streams)` : ''}: such a standby falls behind, and the slot keeps WAL for it`,
      `start the standby, or drop the slot of a retired one: SELECT pg_drop_replication_slot('${idle[0]}');`)
  }
  // The synced copy itself is visible only on the standby.
  return pass('failover.standby', `standby(s) on physical slot(s) ${streaming.join(', ')} stream from this server; whether one holds a synced copy of slot ${ctx.slot} shows only there: run walcast doctor against it`)
}

function checkFeedback(slots: PhysicalSlot[]): CheckResult {
  const without = slots.filter((s) => s.active && !s.feedback).map((s) => s.name)
  return without.length === 0
    ? pass('failover.hot_standby_feedback', `the standby(s) send hot_standby_feedback (an xmin on their physical slot)`)
    : warn('failover.hot_standby_feedback', `the standby on slot(s) ${without.join(', ')} sends no hot_standby_feedback: it cannot keep a synced copy of walcast's slot`,
      `on that standby: ALTER SYSTEM SET hot_standby_feedback = on; ${RELOAD}`)
}

function checkSynchronizedStandbySlots(server: Server, slots: PhysicalSlot[]): CheckResult {
  const names = (server.settings.get('synchronized_standby_slots') ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')
  const physical = new Map(slots.map((s) => [s.name, s]))
  if (names.length === 0) {
    return slots.length === 0
      ? pass('failover.synchronized_standby_slots', 'synchronized_standby_slots is empty (no standby to wait for)')
      : warn('failover.synchronized_standby_slots', `synchronized_standby_slots is empty: walcast may read changes before standby ${slots[0]!.name} has them; promoted, it would lack changes clients already got`,
        `ALTER SYSTEM SET synchronized_standby_slots = '${slots.map((s) => s.name).join(', ')}'; ${RELOAD}`)
  }
  // A named slot that is missing or idle holds back every failover slot: walcast receives nothing.
  const missing = names.filter((n) => !physical.has(n))
  const keep = names.filter((n) => physical.has(n))
  if (missing.length > 0) {
    return fail('failover.synchronized_standby_slots', `synchronized_standby_slots names ${missing.join(', ')}, not a physical slot on this server: walcast receives no changes until it exists`,
      keep.length > 0 ? `ALTER SYSTEM SET synchronized_standby_slots = '${keep.join(', ')}'; ${RELOAD}` : `ALTER SYSTEM RESET synchronized_standby_slots; ${RELOAD} (or create the standby's slot)`)
  }
  const idle = names.filter((n) => !physical.get(n)!.active)
  if (idle.length > 0) {
    return fail('failover.synchronized_standby_slots', `synchronized_standby_slots names ${idle.join(', ')}, whose standby is not streaming: walcast receives no changes until it is back`,
      `start the standby, or take it out: ALTER SYSTEM SET synchronized_standby_slots = '${names.filter((n) => !idle.includes(n)).join(', ')}'; ${RELOAD}`)
  }
  return pass('failover.synchronized_standby_slots', `synchronized_standby_slots = '${names.join(', ')}': walcast reads only changes those standbys have`)
}

/** The standby names in synchronous_standby_names ('a, b', 'FIRST 1 (a, b)', 'ANY 2 ("A", b)', '*'). */
function synchronousNames(server: Server): string[] {
  const value = (server.settings.get('synchronous_standby_names') ?? '').trim()
  const list = /^(?:(?:FIRST|ANY)\s+)?\d+\s*\((.*)\)$/is.exec(value)?.[1] ?? value
  return list.split(',').map((n) => n.trim()).filter((n) => n !== '').map((n) => (n.startsWith('"') ? n.slice(1, -1) : n.toLowerCase()))
}

/**
 * walcast's history lives on the same server. The standby's copy of the slot may move past
 * a change as soon as walcast acknowledges it, but the history commit holding its events
 * reaches the standby only by streaming: promoted in that moment, the standby would lack
 * events its slot is past. A synchronous standby for walcast's commits closes the window.
 */
function checkSynchronousCommit(ctx: DoctorContext, server: Server, standbys: Standbys): CheckResult {
  const names = synchronousNames(server)
  const commit = server.settings.get('synchronous_commit') ?? 'on'
  const setting = server.settings.get('synchronous_standby_names') ?? ''
  if (names.length > 0) {
    // Names match application_name case-insensitively unless quoted; '*' matches any standby.
    const streaming = standbys.names.filter((a) => names.some((n) => n === '*' || n === a || n === a.toLowerCase()))
    if (streaming.length === 0) {
      return fail('failover.synchronous_commit', `synchronous_standby_names = '${setting}' matches no standby that streams: walcast's history commits (and every other synchronous commit) wait until one does`,
        `put the standby's name in application_name of its primary_conninfo, or ALTER SYSTEM SET synchronous_standby_names = '${standbys.names[0] ?? ''}'; ${RELOAD}`)
    }
    if (['on', 'remote_apply', 'remote_write'].includes(commit)) {
      return pass('failover.synchronous_commit', `walcast's history commits wait for a synchronous standby (synchronous_standby_names = '${setting}', synchronous_commit = ${commit})`)
    }
  }
  const why = names.length === 0 ? 'synchronous_standby_names is empty' : `synchronous_commit = ${commit} for this role`
  return warn('failover.synchronous_commit', `${why}: walcast's history commits do not wait for the standby, so one promoted a moment after a commit can lack events its copy of slot ${ctx.slot} is already past`,
    `ALTER SYSTEM SET synchronous_standby_names = '${standbys.names[0] ?? standbys.slots[0]?.name ?? 'standby1'}'; ${RELOAD} and, to keep other writers asynchronous, ALTER SYSTEM SET synchronous_commit = local; ALTER ROLE <walcast's role> SET synchronous_commit = on;`)
}

async function checkStandby(ctx: DoctorContext, server: Server): Promise<CheckResult[]> {
  if (server.version < FAILOVER_SLOTS_SINCE) {
    return [warn('failover.slot', `this is a standby of Postgres ${major(server.version)}, which cannot keep a copy of walcast's slot (failover slots came in Postgres 17): promoted, walcast finds its slot missing, records a gap and clients get reset`,
      `upgrade to Postgres 17 or later for failover slots (${RUNBOOK})`)]
  }
  const setting = (name: string): string => server.settings.get(name) ?? ''
  const results: CheckResult[] = []
  const slot = (await sql<{ synced: boolean; temporary: boolean; confirmed: string | null; invalidated: string | null }>`
    SELECT synced, temporary, confirmed_flush_lsn::text AS confirmed, invalidation_reason AS invalidated
    FROM pg_replication_slots WHERE slot_name = ${ctx.slot}`.execute(ctx.db)).rows[0]
  const lost = `promoting this standby loses walcast's slot (walcast then records a gap and clients get reset)`
  if (slot === undefined) {
    results.push(warn('failover.slot', `this standby holds no copy of slot ${ctx.slot}: ${lost}`,
      `on the primary the slot needs failover = true (walcast doctor there); here sync_replication_slots, hot_standby_feedback, primary_slot_name and a dbname in primary_conninfo (${RUNBOOK})`))
  } else if (!slot.synced) {
    results.push(warn('failover.slot', `slot ${ctx.slot} on this standby was created here, not synced from the primary: slot synchronization will not replace it`,
      `SELECT pg_drop_replication_slot('${ctx.slot}'); on this standby`))
  } else if (slot.invalidated !== null) {
    results.push(warn('failover.slot', `the synced copy of slot ${ctx.slot} is invalidated (${slot.invalidated}): ${lost}`,
      `turn hot_standby_feedback on here and keep primary_slot_name set; the copy is synced again once the primary's slot is valid (${RUNBOOK})`))
  } else if (slot.temporary) {
    // Persisted only once the primary's slot has passed the position the copy started at.
    results.push(warn('failover.slot', `slot ${ctx.slot} is being synced but not persisted yet: the primary's slot has not moved past this standby's starting point, and a promotion now would drop the copy`,
      'let walcast stream on the primary for a moment (its heartbeats move the slot), then run walcast doctor here again'))
  } else {
    results.push(pass('failover.slot', `slot ${ctx.slot} is synced from the primary (confirmed up to ${slot.confirmed ?? 'nothing yet'}): promoted, walcast resumes from it`))
  }
  results.push(setting('sync_replication_slots') === 'on'
    ? pass('failover.sync_replication_slots', 'sync_replication_slots = on')
    : warn('failover.sync_replication_slots', 'sync_replication_slots = off: this standby keeps no copy of the primary\'s failover slots', `ALTER SYSTEM SET sync_replication_slots = on; ${RELOAD}`))
  results.push(setting('hot_standby_feedback') === 'on'
    ? pass('failover.hot_standby_feedback', 'hot_standby_feedback = on')
    : warn('failover.hot_standby_feedback', 'hot_standby_feedback = off: slot synchronization needs it', `ALTER SYSTEM SET hot_standby_feedback = on; ${RELOAD}`))
  results.push(setting('primary_slot_name') !== ''
    ? pass('failover.primary_slot_name', `primary_slot_name = ${setting('primary_slot_name')}`)
    : warn('failover.primary_slot_name', 'primary_slot_name is empty: slot synchronization needs this standby to stream through a physical slot',
      `on the primary: SELECT pg_create_physical_replication_slot('standby1'); here: ALTER SYSTEM SET primary_slot_name = 'standby1'; ${RELOAD}`))
  results.push(checkConninfo(server.settings.get('primary_conninfo')))
  return results
}

function checkConninfo(conninfo: string | undefined): CheckResult {
  // Hidden from roles without pg_read_all_settings; it may hold a password, so it is never printed.
  if (conninfo === undefined) {
    return warn('failover.primary_conninfo', 'primary_conninfo is not readable by this role: slot synchronization needs a dbname in it',
      'check by hand that primary_conninfo names a dbname, or GRANT pg_read_all_settings TO <this role>;')
  }
  const named = /(^|\s)dbname\s*=\s*[^\s']/.test(conninfo) || /^postgres(ql)?:\/\/[^/?]*\/[^?\s]+/.test(conninfo)
  return named
    ? pass('failover.primary_conninfo', 'primary_conninfo names a database')
    : warn('failover.primary_conninfo', 'primary_conninfo names no dbname: the slot sync worker connects to a database on the primary to read its slots',
      `ALTER SYSTEM SET primary_conninfo = '<the same> dbname=postgres'; ${RELOAD}`)
}
