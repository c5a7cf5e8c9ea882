import pg from 'pg'
import t from 'tap'
import { startOwnPostgres } from '../helpers/own-server.ts'
import { runCli } from '../helpers/cli.ts'
import { createDatabase } from '../../src/db/database.ts'
import { migrate } from '../../src/db/migrate.ts'
import { ensureCatalogSchema } from '../../src/catalog/schema.ts'
import { escrowCatalog } from '../../src/catalogs/escrow/index.ts'
import { createCatalogRegistry } from '../../src/catalog/registry.ts'
import { runDoctor } from '../../src/doctor/doctor.ts'
import type { CheckResult } from '../../src/doctor/check.ts'
import { createHistoryStore } from '../../src/history/store.ts'
import { createSlotRecordingGap } from '../../src/replication/slot-admin.ts'

t.test('doctor on a misconfigured server reports each problem with its fix', async (t) => {
  const server = await startOwnPostgres(t, ['wal_level=replica', 'max_wal_senders=0'])
  const database = createDatabase({ url: server.url, poolSize: 2 })
  t.teardown(() => database.close())
  await migrate(database.db)
  await ensureCatalogSchema(database.db, escrowCatalog)
  const admin = new pg.Client({ connectionString: server.url })
  await admin.connect()
  t.teardown(() => admin.end())
  await admin.query(`
    CREATE PUBLICATION walcast FOR TABLE public.escrows, public.escrow_parties, public.milestones, public.disputes
      WITH (publish = 'insert, update, delete');
    ALTER TABLE public.escrows REPLICA IDENTITY DEFAULT;
    ALTER TABLE public.notifications REPLICA IDENTITY NOTHING;
    INSERT INTO walcast.events (commit_lsn, seq, topics, type, payload, committed_at)
      VALUES ('FF/0', 0, '{escrow:1}', 'escrow:status_changed', '{}', now() - interval '30 days');
    CREATE ROLE doctor_weak LOGIN PASSWORD 'weak-pw';`)

  const registry = createCatalogRegistry(escrowCatalog)
  const report = await runDoctor({
    db: database.db, slot: 'walcast', publication: 'walcast', tracked: registry.tables, fullIdentity: registry.fullIdentityTables,
    retentionMs: 7 * 86_400_000, pruneIntervalMs: 60_000, walWarnBytes: 2 ** 30,
  })
  const checks = new Map(report.sections.flatMap((s) => s.checks).map((c) => [c.id, c] as [string, CheckResult]))
  const expectFinding = (id: string, status: 'warn' | 'fail', message: RegExp, fix: string | RegExp) => {
    const check = checks.get(id)
    t.equal(check?.status, status, `${id} ${status}s`)
    t.match(check?.message, message, `${id} explains`)
    t.match(check?.fix, fix, `${id} gives the fix`)
  }
  expectFinding('settings.wal_level', 'fail', /^wal_level = replica: logical decoding needs wal_level = logical$/, /^ALTER SYSTEM SET wal_level = 'logical'; then restart Postgres/)
  expectFinding('settings.max_wal_senders', 'fail', /^max_wal_senders = 0 with 0 in use/, /^ALTER SYSTEM SET max_wal_senders = 10;/)
  expectFinding('settings.max_slot_wal_keep_size', 'warn', /unlimited/, "ALTER SYSTEM SET max_slot_wal_keep_size = '4096MB'; SELECT pg_reload_conf();")
  expectFinding('publication.tables', 'fail', /lacks tracked table\(s\) public\.notifications/, 'ALTER PUBLICATION "walcast" ADD TABLE "public"."notifications";')
  // I6: a truncate the publication does not carry arrives as nothing at all, a silent gap.
  expectFinding('publication.operations', 'fail', /does not publish truncate$/, `ALTER PUBLICATION "walcast" SET (publish = 'insert, update, delete, truncate');`)
  expectFinding('replica_identity.public.escrows', 'fail', /REPLICA IDENTITY DEFAULT, but walcast needs the full old row/, 'ALTER TABLE public.escrows REPLICA IDENTITY FULL;')
  expectFinding('replica_identity.public.notifications', 'fail', /REPLICA IDENTITY NOTHING: Postgres rejects UPDATE and DELETE/, /^ALTER TABLE public\.notifications REPLICA IDENTITY FULL;/)
  expectFinding('slot.exists', 'fail', /missing although walcast streamed from it \(or the history holds events\)/, /walcast slot create/)
  expectFinding('history.retention', 'warn', /the oldest event is 30d old, retention is 7d/, /walcast history prune/)
  expectFinding('history.position', 'warn', /the history ends at LSN FF\/0, beyond this server's WAL position.*walcast serve will shift new ids/, /a-server-behind-the-history/)
  for (const id of ['settings.max_replication_slots', 'role.replication', 'publication.exists', 'replica_identity.public.milestones', 'history.size', 'history.gaps']) {
    t.equal(checks.get(id)?.status, 'pass', `${id} passes`)
  }
  t.match(report, { ok: false, counts: { fail: 7, warn: 3 } })

  // The same server through the CLI, found as a running embedded Postgres (no DATABASE_URL).
  const embeddedEnv = { WALCAST_DATA_DIR: server.dataDir, WALCAST_EMBEDDED_PORT: String(server.port) }
  const human = await runCli(['doctor'], embeddedEnv)
  t.equal(human.code, 1, 'exit 1 when a check fails')
  t.match(human.stdout, /^walcast doctor: the embedded Postgres, slot walcast, publication walcast$/m)
  t.match(human.stdout, /^ {2}\[FAIL\] wal_level = replica: logical decoding needs wal_level = logical\n {9}fix: ALTER SYSTEM SET wal_level = 'logical';/m)
  t.match(human.stdout, /^ {2}\[warn\] max_slot_wal_keep_size = -1/m)
  t.match(human.stdout, /^\d+ passed, 3 warnings, 7 failed$/m)

  const created = await runCli(['slot', 'create'], embeddedEnv)
  t.equal(created.code, 1)
  t.match(created.stderr, /^walcast: WAL_LEVEL_NOT_LOGICAL: wal_level is replica; logical decoding needs wal_level = logical\nhint: run ALTER SYSTEM SET wal_level = 'logical'/)
  await t.rejects(createSlotRecordingGap(database.db, createHistoryStore(database.db), 'walcast'), { code: 'WAL_LEVEL_NOT_LOGICAL' }, 'Postgres\' own refusal is translated too')

  // As a role with no REPLICATION and no grants.
  const weak = new URL(server.url)
  weak.username = 'doctor_weak'
  weak.password = 'weak-pw'
  const asWeak = await runCli(['doctor', '--json'], { DATABASE_URL: weak.toString() })
  t.equal(asWeak.code, 1, asWeak.stderr)
  const weakChecks = new Map<string, CheckResult>(JSON.parse(asWeak.stdout).sections.flatMap((s: any) => s.checks).map((c: CheckResult) => [c.id, c]))
  t.match(weakChecks.get('role.replication'), { status: 'fail', message: /lacks the REPLICATION attribute/, fix: 'ALTER ROLE "doctor_weak" WITH REPLICATION; (as a superuser; see sql/role.sql)' })
  t.match(weakChecks.get('role.tracked_tables'), { status: 'fail', message: /cannot SELECT public\.disputes, public\.escrow_parties, public\.escrows, public\.milestones, public\.notifications/, fix: /^GRANT SELECT ON public\.disputes, .* TO "doctor_weak";$/ })
  t.match(weakChecks.get('role.walcast_schema'), { status: 'fail', message: /lacks USAGE on schema walcast; SELECT, INSERT, DELETE on walcast\.events/, fix: /^GRANT USAGE ON SCHEMA walcast TO "doctor_weak";/ })
  t.match(weakChecks.get('history.error'), { status: 'fail', message: /^could not check: permission denied for schema walcast/ }, 'a group that cannot run is a failed check, not a crash')

  const sync = await runCli(['publication', 'sync'], { DATABASE_URL: weak.toString() })
  t.equal(sync.code, 1)
  t.match(sync.stderr, /^walcast: postgres error 42501: must be owner of publication walcast\nhint: the role lacks a privilege/)
  await admin.query('DROP OWNED BY doctor_weak; DROP ROLE doctor_weak')
})
