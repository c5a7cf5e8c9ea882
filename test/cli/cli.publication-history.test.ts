import net from 'node:net'
import { spawn } from 'node:child_process'
import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { cliEnv, runCli } from '../helpers/cli.ts'

t.test('history prune deletes what is older than the retention', async (t) => {
  const tdb = await createTestDatabase(t)
  await tdb.query(`
    INSERT INTO walcast.events (commit_lsn, seq, topics, type, payload, committed_at) VALUES
      ('0/100', 0, '{escrow:1}', 'escrow:status_changed', '{}', now() - interval '10 days'),
      ('0/100', 1, '{escrow:1}', 'escrow:status_changed', '{}', now() - interval '9 days'),
      ('0/200', 0, '{escrow:1}', 'escrow:status_changed', '{}', now())`)
  const human = await runCli(['history', 'prune'], cliEnv(tdb))
  t.equal(human.code, 0, human.stderr)
  t.equal(human.stdout, 'deleted 2 events older than 7d\n')
  const json = await runCli(['history', 'prune', '--json'], cliEnv(tdb, { WALCAST_RETENTION: '1h' }))
  t.same(JSON.parse(json.stdout), { deleted: 0, retentionMs: 3_600_000 })
  const left = await tdb.query('SELECT 1 FROM walcast.events')
  t.equal(left.rowCount, 1)
  const doctor = await runCli(['doctor', '--json'], cliEnv(tdb))
  const checks = JSON.parse(doctor.stdout).sections.flatMap((s: any) => s.checks)
  t.match(checks.find((c: any) => c.id === 'history.retention'), { status: 'pass', message: /^the oldest event is \d+s old; retention is 7d$/ })
  t.equal(doctor.code, 1, 'no slot while the history holds events: a failure')
})

t.test('migrate reports what it applied', async (t) => {
  const tdb = await createTestDatabase(t)
  const json = await runCli(['migrate', '--json'], cliEnv(tdb))
  t.equal(json.code, 0, json.stderr)
  t.same(JSON.parse(json.stdout), {
    applied: [], skipped: ['001_walcast_schema.sql', '003_walcast_slots.sql', '004_walcast_epochs.sql', '005_walcast_latest_per_key.sql', '006_walcast_history_pages.sql', '007_walcast_event_texts.sql'],
    catalog: { name: 'escrow', schema: 'present' },
  })
  const fresh = await createTestDatabase(t, { prepared: false })
  const human = await runCli(['migrate'], cliEnv(fresh))
  t.equal(human.stdout, 'applied 001_walcast_schema.sql, 003_walcast_slots.sql, 004_walcast_epochs.sql, 005_walcast_latest_per_key.sql, 006_walcast_history_pages.sql, 007_walcast_event_texts.sql\ncatalog escrow: schema applied\n')
  const tables = await fresh.query<{ t: string }>(`SELECT string_agg(tablename, ',' ORDER BY tablename COLLATE "C") AS t FROM pg_tables WHERE schemaname = 'public'`)
  t.equal(tables.rows[0]!.t, 'disputes,escrow_parties,escrows,milestones,notifications,users', 'the escrow catalog\'s tables, from its own schema file')
})

t.test('failures are one line and a hint, with a non-zero exit', async (t) => {
  const closed = net.createServer()
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
  const port = (closed.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => closed.close(() => resolve()))
  const down = await runCli(['slot', 'status'], { DATABASE_URL: `postgres://walcast:secret-pw@127.0.0.1:${port}/walcast` })
  t.equal(down.code, 1)
  t.match(down.stderr, new RegExp(`^walcast: DB_UNREACHABLE: cannot connect to Postgres at postgres://walcast:redacted@127\\.0\\.0\\.1:${port}/walcast: .*\\nhint: check DATABASE_URL`))
  t.notMatch(down.stderr, /secret-pw/, 'the password is never printed')
  t.equal(down.stderr.trim().split('\n').length, 2, 'exactly two lines')

  const config = await runCli(['doctor'], { WALCAST_WAL_WARN_BYTES: 'lots' })
  t.equal(config.code, 1)
  t.equal(config.stderr, 'walcast: CONFIG_INVALID: WALCAST_WAL_WARN_BYTES: expected a size such as 1073741824, 512MB or 1GiB, got "lots"\nhint: fix or unset WALCAST_WAL_WARN_BYTES; see docs/operations.md#configuration\n')

  const usage = await runCli(['slot', 'remove'], {})
  t.equal(usage.code, 2)
  t.equal(usage.stderr, 'walcast: USAGE: unknown command "slot remove"; walcast slot has: status, create, drop\nhint: run walcast --help\n')
  const flag = await runCli(['slot', 'drop', '--yes'], {})
  t.equal(flag.code, 2)
  t.match(flag.stderr, /^walcast: USAGE: unknown option --yes\n/)
})

t.test('npx walcast --help works through bin/', async (t) => {
  // bin/ loads the sources through tsx, whose output differs from the test loader's: kept
  // out of coverage, or its counts would be merged onto the wrong lines.
  const env = { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' }
  const child = spawn('npx', ['--no-install', 'walcast', '--help'], { stdio: ['ignore', 'pipe', 'pipe'], env })
  let out = ''
  child.stdout.on('data', (chunk) => { out += chunk })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  t.equal(code, 0)
  for (const command of ['serve', 'migrate', 'doctor', 'slot status', 'slot create', 'slot drop', 'publication show', 'publication sync', 'history prune']) {
    t.match(out, new RegExp(`^  ${command} `, 'm'), `lists ${command}`)
  }
})
