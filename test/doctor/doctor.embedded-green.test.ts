import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { runCli } from '../helpers/cli.ts'
import { freePort } from '../helpers/own-server.ts'
import { waitFor } from '../helpers/wait.ts'

t.test('doctor is all green on the embedded Postgres walcast serve configured itself (bounded max_slot_wal_keep_size)', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'walcast-doctor-'))
  // The embedded server runs as the postgres user: it must be able to reach its data dir.
  await fs.chmod(dir, 0o755)
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }))
  const env = { WALCAST_DATA_DIR: path.join(dir, 'pgdata'), WALCAST_EMBEDDED_PORT: String(await freePort()), WALCAST_PORT: String(await freePort()) }

  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'DATABASE_URL' && !k.startsWith('WALCAST_')))
  const serve = spawn(process.execPath, [...process.execArgv, 'src/cli/run.ts', 'serve'], { env: { ...base, WALCAST_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'ignore', 'ignore'] })
  const exited = new Promise<number | null>((resolve) => serve.on('close', resolve))
  t.teardown(() => { if (serve.exitCode === null) serve.kill('SIGKILL') })
  await waitFor(async () => (await fetch(`http://127.0.0.1:${env.WALCAST_PORT}/readyz`).catch(() => undefined))?.status === 200, 90_000, 'serve to be ready')

  const doctor = await runCli(['doctor', '--json'], env)
  const report = JSON.parse(doctor.stdout)
  const notPassing = report.sections.flatMap((s: any) => s.checks).filter((c: any) => c.status !== 'pass')
  t.same(notPassing, [], 'every check passes')
  t.equal(doctor.code, 0, 'exit code 0')
  t.match(report, { ok: true, counts: { warn: 0, fail: 0 } })
  t.match(report.sections.flatMap((s: any) => s.checks).find((c: any) => c.id === 'settings.max_slot_wal_keep_size'),
    { status: 'pass', message: /^max_slot_wal_keep_size = 4(\.0)? ?GiB$/ }, 'the bound docs/operations.md states')

  serve.kill('SIGTERM')
  t.equal(await exited, 0, 'SIGTERM is a clean exit')
})
