import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { runCli } from '../helpers/cli.ts'
import { waitFor } from '../helpers/wait.ts'
import { freePort } from '../helpers/own-server.ts'

t.test('walcast serve on the embedded default: demo data, /readyz, CLI alongside, graceful SIGTERM', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'walcast-serve-'))
  // The embedded server runs as the postgres user: it must be able to reach its data dir.
  await fs.chmod(dir, 0o755)
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }))
  const env = { WALCAST_DATA_DIR: path.join(dir, 'pgdata'), WALCAST_EMBEDDED_PORT: String(await freePort()), WALCAST_PORT: String(await freePort()) }

  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'DATABASE_URL' && !k.startsWith('WALCAST_')))
  const serve = spawn(process.execPath, [...process.execArgv, 'src/cli/run.ts', 'serve'], { env: { ...base, WALCAST_LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let logs = ''
  serve.stdout.on('data', (chunk) => { logs += chunk })
  serve.stderr.on('data', (chunk) => { logs += chunk })
  const exited = new Promise<number | null>((resolve) => serve.on('close', resolve))
  t.teardown(() => { if (serve.exitCode === null) serve.kill('SIGKILL') })

  const ready = await waitFor(async () => {
    const res = await fetch(`http://127.0.0.1:${env.WALCAST_PORT}/readyz`).catch(() => undefined)
    return res?.status === 200 ? res.json() : undefined
  }, 90_000, 'serve to be ready')
  t.same(ready, { status: 'ready' })
  t.match(logs, /seeded demo data/)
  // The whole URL, password included: the embedded default is a local dev database.
  t.match(logs, new RegExp(`"msg":"embedded postgres: psql postgres://postgres:walcast@127\\.0\\.0\\.1:${env.WALCAST_EMBEDDED_PORT}/postgres"`),
    'start-up says how to reach the embedded Postgres')

  // The CLI finds the running embedded server instead of starting a second one.
  const status = await runCli(['slot', 'status', '--json'], env)
  t.equal(status.code, 0, status.stderr)
  t.match(JSON.parse(status.stdout).slots, [{ name: 'walcast', walcast: true, active: true }])

  serve.kill('SIGTERM')
  t.equal(await exited, 0, 'SIGTERM is a clean exit')
  t.match(logs, /walcast stopped/)

  // Nothing runs now: the CLI starts the embedded server for the command and stops it after.
  const migrate = await runCli(['migrate'], env)
  t.equal(migrate.code, 0, migrate.stderr)
  t.equal(migrate.stdout, 'schema is up to date\n')
  const pid = await fs.readFile(path.join(env.WALCAST_DATA_DIR, 'postmaster.pid'), 'utf8').catch(() => undefined)
  t.equal(pid, undefined, 'and stopped it again')
})
