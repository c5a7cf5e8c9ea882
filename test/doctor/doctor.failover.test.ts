import pg from 'pg'
import t from 'tap'
import { createDatabase, type Database } from '../../src/db/database.ts'
import { migrate } from '../../src/db/migrate.ts'
import { ensureCatalogSchema } from '../../src/catalog/schema.ts'
import { checkFailover } from '../../src/doctor/failover.ts'
import type { CheckResult, DoctorContext } from '../../src/doctor/check.ts'
import { escrowCatalog } from '../../src/catalogs/escrow/index.ts'
import { createCatalogRegistry } from '../../src/catalog/registry.ts'
import { ensurePublication } from '../../src/replication/publication.ts'
import { runCli } from '../helpers/cli.ts'
import { silentLogger } from '../helpers/log.ts'
import { startOwnPostgres } from '../helpers/own-server.ts'
import { query, startStandby } from '../helpers/standby.ts'
import { waitFor } from '../helpers/wait.ts'

const registry = createCatalogRegistry(escrowCatalog)

async function failoverChecks(database: Database): Promise<Map<string, CheckResult>> {
  const ctx: DoctorContext = {
    db: database.db, slot: 'walcast', publication: 'walcast', tracked: registry.tables, fullIdentity: registry.fullIdentityTables,
    retentionMs: 7 * 86_400_000, pruneIntervalMs: 60_000, walWarnBytes: 2 ** 30,
  }
  return new Map((await checkFailover(ctx)).map((c) => [c.id, c]))
}

t.test('doctor names each failover fix, on the primary and on the standby, and the fixes work', async (t) => {
  const primary = await startOwnPostgres(t)
  const setup = createDatabase({ url: primary.url, poolSize: 1 })
  await migrate(setup.db)
  await ensureCatalogSchema(setup.db, escrowCatalog)
  await ensurePublication(setup.db, 'walcast', registry.tables, silentLogger())
  await setup.close()
  // A slot as walcast made it before Postgres 17 support: no failover.
  await query(primary.url, `SELECT pg_create_logical_replication_slot('walcast', 'pgoutput')`)
  const port = new URL(primary.url).port
  const standby = await startStandby(t, primary, {
    physicalSlot: 'standby1',
    syncSlots: false,
    overrides: ['hot_standby_feedback = off', `primary_conninfo = 'host=127.0.0.1 port=${port} user=postgres password=walcast application_name=standby1'`],
  })
  const onPrimary = createDatabase({ url: primary.url, poolSize: 1 })
  t.teardown(() => onPrimary.close())
  const onStandby = createDatabase({ url: standby.url, poolSize: 1 })
  t.teardown(() => onStandby.close())

  const expectCheck = (checks: Map<string, CheckResult>, id: string, status: CheckResult['status'], message: RegExp, fix?: string | RegExp) => {
    const check = checks.get(id)
    t.equal(check?.status, status, `${id}: ${status}`)
    t.match(check?.message, message, `${id} explains`)
    if (fix !== undefined) t.match(check?.fix, fix, `${id} gives the fix`)
  }

  let checks = await failoverChecks(onPrimary)
  t.same([...checks.keys()], ['failover.slot', 'failover.standby', 'failover.hot_standby_feedback', 'failover.synchronized_standby_slots', 'failover.synchronous_commit'], 'the primary\'s checks')
  expectCheck(checks, 'failover.slot', 'warn', /^slot walcast has failover = false: no standby keeps a copy of it/,
    `stop walcast, then psql "dbname=postgres replication=database" -c 'ALTER_REPLICATION_SLOT walcast ( FAILOVER true )' (no gap); or walcast slot drop --force and walcast slot create (records a gap)`)
  expectCheck(checks, 'failover.standby', 'pass', /^standby\(s\) on physical slot\(s\) standby1 stream from this server; whether one holds a synced copy of slot walcast shows only there/)
  expectCheck(checks, 'failover.hot_standby_feedback', 'warn', /^the standby on slot\(s\) standby1 sends no hot_standby_feedback/, 'on that standby: ALTER SYSTEM SET hot_standby_feedback = on; SELECT pg_reload_conf();')
  expectCheck(checks, 'failover.synchronized_standby_slots', 'warn', /^synchronized_standby_slots is empty: walcast may read changes before standby standby1 has them/,
    `ALTER SYSTEM SET synchronized_standby_slots = 'standby1'; SELECT pg_reload_conf();`)
  expectCheck(checks, 'failover.synchronous_commit', 'warn', /^synchronous_standby_names is empty: walcast's history commits do not wait for the standby/, /^ALTER SYSTEM SET synchronous_standby_names = 'standby1';/)

  checks = await failoverChecks(onStandby)
  t.same([...checks.keys()], ['failover.slot', 'failover.sync_replication_slots', 'failover.hot_standby_feedback', 'failover.primary_slot_name', 'failover.primary_conninfo'], 'the standby\'s checks')
  expectCheck(checks, 'failover.slot', 'warn', /^this standby holds no copy of slot walcast: promoting this standby loses walcast's slot \(walcast then records a gap and clients get reset\)$/)
  expectCheck(checks, 'failover.sync_replication_slots', 'warn', /^sync_replication_slots = off/, 'ALTER SYSTEM SET sync_replication_slots = on; SELECT pg_reload_conf();')
  expectCheck(checks, 'failover.hot_standby_feedback', 'warn', /^hot_standby_feedback = off/, 'ALTER SYSTEM SET hot_standby_feedback = on; SELECT pg_reload_conf();')
  expectCheck(checks, 'failover.primary_slot_name', 'pass', /^primary_slot_name = standby1$/)
  expectCheck(checks, 'failover.primary_conninfo', 'warn', /^primary_conninfo names no dbname/, /dbname=postgres/)
  t.notMatch(JSON.stringify([...checks.values()]), /password|walcast@/, 'primary_conninfo (and its password) is never printed')

  // The CLI against the standby: the primary's slot and history are not judged there.
  const cli = await runCli(['doctor', '--json'], { DATABASE_URL: standby.url })
  const report = JSON.parse(cli.stdout)
  t.match(report.sections.find((s: any) => s.name === 'replication slot'), { checks: [{ id: 'replication_slot.standby', status: 'pass', message: 'this server is a standby: checked on the primary' }] })
  t.match(report.sections.find((s: any) => s.name === 'history'), { checks: [{ id: 'history.standby', status: 'pass' }] })
  t.equal(report.sections.find((s: any) => s.name === 'failover').checks[0].id, 'failover.slot')
  t.equal(cli.code, 3, 'warnings only', { stderr: cli.stderr })

  // The fixes, as the messages give them.
  const replication = new pg.Client({ connectionString: primary.url, replication: 'database' } as pg.ClientConfig)
  await replication.connect()
  await replication.query('ALTER_REPLICATION_SLOT walcast ( FAILOVER true )')
  await replication.end()
  await query(primary.url, `ALTER SYSTEM SET synchronized_standby_slots = 'standby1'`)
  await query(primary.url, `ALTER SYSTEM SET synchronous_standby_names = 'standby1'`)
  await query(primary.url, 'SELECT pg_reload_conf()')
  for (const fix of ['ALTER SYSTEM SET hot_standby_feedback = on', 'ALTER SYSTEM SET sync_replication_slots = on',
    `ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=${port} user=postgres password=walcast application_name=standby1 dbname=postgres'`, 'SELECT pg_reload_conf()']) {
    await query(standby.url, fix)
  }
  checks = await waitFor(async () => {
    const found = await failoverChecks(onPrimary)
    return [...found.values()].every((c) => c.status === 'pass') ? found : undefined
  }, 30_000, 'every failover check on the primary passing')
  t.match(checks.get('failover.slot')?.message, /^slot walcast has failover = true/)
  t.match(checks.get('failover.synchronous_commit')?.message, /^walcast's history commits wait for a synchronous standby \(synchronous_standby_names = 'standby1', synchronous_commit = on\)$/)
  checks = await failoverChecks(onStandby)
  for (const id of ['failover.sync_replication_slots', 'failover.hot_standby_feedback', 'failover.primary_conninfo']) t.equal(checks.get(id)?.status, 'pass', `${id} passes once fixed`)
  // Nothing consumes the primary's slot here, so its copy is not persisted.
  checks = await waitFor(async () => {
    const found = await failoverChecks(onStandby)
    return /being synced/.test(found.get('failover.slot')?.message ?? '') ? found : undefined
  }, 30_000, 'a temporary copy of the slot on the standby')
  expectCheck(checks, 'failover.slot', 'warn', /^slot walcast is being synced but not persisted yet: the primary's slot has not moved past this standby's starting point, and a promotion now would drop the copy$/, /let walcast stream on the primary/)

  // primary_conninfo may hold a password: a role without pg_read_all_settings cannot read it.
  await query(primary.url, `CREATE ROLE doctor_reader LOGIN PASSWORD 'reader-pw'`)
  const reader = createDatabase({ url: standby.url.replace('postgres:walcast@', 'doctor_reader:reader-pw@'), poolSize: 1 })
  t.teardown(() => reader.close())
  checks = await waitFor(() => failoverChecks(reader).catch(() => undefined), 15_000, 'the role replayed on the standby')
  expectCheck(checks, 'failover.primary_conninfo', 'warn', /^primary_conninfo is not readable by this role/, /GRANT pg_read_all_settings/)
  await reader.close()

  // A standby that is down holds back every failover slot: walcast would receive nothing.
  await standby.stop()
  checks = await failoverChecks(onPrimary)
  expectCheck(checks, 'failover.standby', 'warn', /^physical slot\(s\) standby1 have no standby streaming/, `start the standby, or drop the slot of a retired one: SELECT pg_drop_replication_slot('standby1');`)
  expectCheck(checks, 'failover.synchronized_standby_slots', 'fail', /^synchronized_standby_slots names standby1, whose standby is not streaming: walcast receives no changes until it is back$/)
  expectCheck(checks, 'failover.synchronous_commit', 'fail', /^synchronous_standby_names = 'standby1' matches no standby that streams: walcast's history commits \(and every other synchronous commit\) wait until one does$/)
  await query(primary.url, `ALTER SYSTEM SET synchronized_standby_slots = 'standby2'`)
  await query(primary.url, 'SELECT pg_reload_conf()')
  checks = await waitFor(async () => {
    const found = await failoverChecks(onPrimary)
    return /standby2/.test(found.get('failover.synchronized_standby_slots')?.message ?? '') ? found : undefined
  }, 10_000, 'the reloaded setting')
  expectCheck(checks, 'failover.synchronized_standby_slots', 'fail', /^synchronized_standby_slots names standby2, not a physical slot on this server/, 'ALTER SYSTEM RESET synchronized_standby_slots; SELECT pg_reload_conf(); (or create the standby\'s slot)')
})
