import t from 'tap'
import { createDatabase } from '../../src/db/database.ts'
import { runDoctor } from '../../src/doctor/doctor.ts'
import type { CheckResult } from '../../src/doctor/check.ts'
import { escrowCatalog } from '../../src/catalogs/escrow/index.ts'
import { createCatalogRegistry } from '../../src/catalog/registry.ts'
import { startOwnPostgres } from '../helpers/own-server.ts'
import { spawnWalcast } from '../helpers/spawn.ts'
import { query, startStandby, waitForReplay, waitForSyncedSlot } from '../helpers/standby.ts'
import { waitFor } from '../helpers/wait.ts'

const SLOT = 'walcast'

interface Row { escrow: number; lsn: string; seq: number }

/** The history in id order: which escrow each event is about. */
async function history(url: string): Promise<Row[]> {
  return (await query<Row>(url, `SELECT (payload ->> 'escrowId')::int AS escrow, commit_lsn::text AS lsn, seq FROM walcast.events ORDER BY commit_lsn, seq`)).rows
}

const insertEscrows = (url: string, from: number, to: number): Promise<unknown> =>
  query(url, `INSERT INTO escrows (id, title, amount, currency) SELECT g, 'e' || g, 1, 'USD' FROM generate_series(${from}, ${to}) g`)

async function failoverChecks(url: string): Promise<Map<string, CheckResult>> {
  const database = createDatabase({ url, poolSize: 1 })
  try {
    const registry = createCatalogRegistry(escrowCatalog)
    const report = await runDoctor({
      db: database.db, slot: SLOT, publication: 'walcast', tracked: registry.tables, fullIdentity: registry.fullIdentityTables,
      retentionMs: 7 * 86_400_000, pruneIntervalMs: 60_000, walWarnBytes: 2 ** 30,
    })
    return new Map(report.sections.flatMap((s) => s.checks).filter((c) => c.id.startsWith('failover.')).map((c) => [c.id, c]))
  } finally {
    await database.close()
  }
}

t.test('I1, I3: walcast pointed at a promoted standby that synced its failover slot resumes with nothing lost', async (t) => {
  const primary = await startOwnPostgres(t)
  const standby = await startStandby(t, primary, { physicalSlot: 'standby1' })
  // Set after the copy: on the standby these would name a slot and a standby it does not have.
  await query(primary.url, `ALTER SYSTEM SET synchronized_standby_slots = 'standby1'`)
  await query(primary.url, `ALTER SYSTEM SET synchronous_standby_names = 'standby1'`)
  await query(primary.url, 'SELECT pg_reload_conf()')

  const env = {
    DATABASE_URL: primary.url, WALCAST_SLOT: SLOT, WALCAST_LOG_LEVEL: 'info', WALCAST_PORT: '0',
    WALCAST_STATUS_INTERVAL: '1s', WALCAST_TAKEOVER_RETRY: '300ms', WALCAST_HEARTBEAT: '1s',
  }
  const first = spawnWalcast(['serve'], env)
  t.teardown(() => first.kill('SIGKILL'))
  await waitFor(() => first.stdout().includes('replication streaming'), 60_000, 'walcast streaming from the primary')
  const slot = (await query<{ failover: boolean }>(primary.url, 'SELECT failover FROM pg_replication_slots WHERE slot_name = $1', [SLOT])).rows[0]
  t.same(slot, { failover: true }, 'walcast created its slot as a failover slot')

  await insertEscrows(primary.url, 1, 10)
  await insertEscrows(primary.url, 11, 20)
  await waitFor(async () => (await history(primary.url)).length === 20, 30_000, '20 events in the primary\'s history')

  const copy = await waitForSyncedSlot(primary.url, standby.url, SLOT)
  t.match(copy, { synced: true, temporary: false, failover: true }, 'the standby holds a synced copy of the slot')

  const onPrimary = await failoverChecks(primary.url)
  t.same([...onPrimary.values()].filter((c) => c.status !== 'pass'), [], 'doctor on the primary: every failover check passes')
  t.same([...onPrimary.keys()], ['failover.slot', 'failover.standby', 'failover.hot_standby_feedback', 'failover.synchronized_standby_slots', 'failover.synchronous_commit'])
  const onStandby = await failoverChecks(standby.url)
  t.same([...onStandby.values()].filter((c) => c.status !== 'pass'), [], 'doctor on the standby: every failover check passes')
  t.match(onStandby.get('failover.slot')?.message, /^slot walcast is synced from the primary \(confirmed up to [0-9A-F]+\/[0-9A-F]+\): promoted, walcast resumes from it$/)

  first.kill('SIGTERM')
  t.equal(await first.exited, 0, 'walcast stopped cleanly on the primary')
  // Committed while no walcast reads: only the slot (and its synced copy) remembers them.
  await insertEscrows(primary.url, 21, 30)
  await waitForReplay(primary.url, standby.url)
  await waitForSyncedSlot(primary.url, standby.url, SLOT)
  await primary.stop()
  await standby.promote()

  const second = spawnWalcast(['serve'], { ...env, DATABASE_URL: standby.url })
  t.teardown(() => second.kill('SIGKILL'))
  await waitFor(() => second.stdout().includes('replication streaming'), 60_000, 'walcast streaming from the promoted standby')
  await insertEscrows(standby.url, 31, 40)
  await waitFor(async () => (await history(standby.url)).length >= 40, 30_000, '40 events in the new primary\'s history')

  const rows = await history(standby.url)
  t.same(rows.map((r) => r.escrow), Array.from({ length: 40 }, (_, i) => i + 1), 'every change once, in commit order: before, during and after the failover')
  t.same((await query(standby.url, 'SELECT reason FROM walcast.gaps')).rows, [], 'no gap recorded')
  t.notMatch(second.stdout(), /slot was dropped|recorded a gap|created replication slot/, 'walcast resumed on the synced slot, not on a new one')
  second.kill('SIGTERM')
  t.equal(await second.exited, 0, 'walcast stops cleanly', { stderr: second.stderr() })
})
