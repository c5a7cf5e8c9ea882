import fs from 'node:fs/promises'
import pg from 'pg'
import t from 'tap'
import { adminUrl, createTestDatabase } from '../helpers/db.ts'
import { startTestService, waitForHistory } from '../helpers/service.ts'
import { cliEnv, runCli } from '../helpers/cli.ts'

/** Applies sql/role.sql as a DBA would with psql -v password=…; the role is cluster-wide. */
async function createLeastPrivilegeRole(t: { teardown(fn: () => unknown): void }, url: string): Promise<string> {
  const text = (await fs.readFile('sql/role.sql', 'utf8')).replace(':password', "'doctor-pw'")
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  await client.query(text)
  await client.end()
  t.teardown(async () => {
    const admin = new pg.Client({ connectionString: adminUrl() })
    await admin.connect()
    await admin.query('DROP ROLE IF EXISTS walcast').catch(() => {})
    await admin.end()
  })
  const role = new URL(url)
  role.username = 'walcast'
  role.password = 'doctor-pw'
  return role.toString()
}

t.test('doctor passes every check on a well-configured server, as the least-privilege role', async (t) => {
  const tdb = await createTestDatabase(t)
  const roleUrl = await createLeastPrivilegeRole(t, tdb.url)
  // walcast itself runs as that role too: sql/role.sql is all it needs.
  await startTestService(t, tdb, { DATABASE_URL: roleUrl, WALCAST_HEARTBEAT: '1s' })
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (1, 'T', 1, 'USD')`)
  await waitForHistory(tdb, 1)

  const json = await runCli(['doctor', '--json'], cliEnv(tdb, { DATABASE_URL: roleUrl }))
  const report = JSON.parse(json.stdout)
  const notPassing = report.sections.flatMap((s: any) => s.checks).filter((c: any) => c.status !== 'pass')
  // A single server is legitimate: doctor says what its loss means, and stays green.
  t.same(notPassing, [], 'every check passes')
  t.equal(json.code, 0, 'exit code 0')
  t.match(report, { ok: true, counts: { warn: 0, fail: 0 } })
  t.match(report.sections.flatMap((s: any) => s.checks).find((c: any) => c.id === 'failover.standby'), { status: 'pass', message: /^no physical standby streams from this server.*docs\/operations\.md#failover/ }, 'the missing standby is said, not warned about')
  const ids = report.sections.flatMap((s: any) => s.checks.map((c: any) => c.id))
  t.same(ids, [
    'settings.wal_level', 'settings.max_replication_slots', 'settings.max_wal_senders', 'settings.max_slot_wal_keep_size',
    'role.replication', 'role.tracked_tables', 'role.walcast_schema', 'role.heartbeat',
    'publication.exists', 'publication.tables', 'publication.operations',
    'replica_identity.public.disputes', 'replica_identity.public.escrow_parties', 'replica_identity.public.escrows',
    'replica_identity.public.milestones', 'replica_identity.public.notifications',
    'slot.exists', 'slot.wal_status', 'slot.activity', 'slot.lag',
    'failover.slot', 'failover.standby', 'failover.synchronized_standby_slots',
    'history.size', 'history.retention', 'history.gaps', 'history.position',
  ], 'every check group ran')
  t.match(report.sections[1].checks[0].message, /^role walcast may stream changes \(REPLICATION\)$/)

  t.match(report.sections.find((s: any) => s.name === 'failover').checks[0], { id: 'failover.slot', status: 'pass', message: /^slot \S+ has failover = true/ }, 'walcast created a failover slot')
  const human = await runCli(['doctor'], cliEnv(tdb, { DATABASE_URL: roleUrl }))
  t.equal(human.code, 0)
  t.match(human.stdout, /^walcast doctor: postgres:\/\/walcast:redacted@127\.0\.0\.1:\d+\/walcast_test_\w+, slot \S+, publication walcast$/m, 'the password is never printed')
  t.match(human.stdout, /^server settings\n {2}\[ok\] {3}wal_level = logical$/m)
  t.match(human.stdout, /^ {2}\[ok\] {3}active \(walsender pid \d+\)$/m)
  t.match(human.stdout, /^27 passed, 0 warnings, 0 failed$/m)
  t.equal(human.stdout.match(/fix:/g), null, 'no fix to offer')
})
