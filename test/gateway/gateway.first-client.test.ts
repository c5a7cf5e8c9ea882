import t from 'tap'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createTestDatabase } from '../helpers/db.ts'
import { childEnv } from '../helpers/spawn.ts'
import { TEST_JWT_SECRET, signToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'
import { connectWs } from '../helpers/ws-client.ts'

// uWebSockets.js 20.30 mishandles res.cork(() => res.upgrade()) after an await: it reads
// the HTTP response's memory after the socket moved and may shut the new WebSocket down
// right after the 101. A fresh process's first client under the V8 profiler hit it every
// time (and CI once without it): the client saw `open`, then silence.
t.test("a fresh walcast answers its very first WebSocket client", async (t) => {
  const tdb = await createTestDatabase(t)
  const profiles = fs.mkdtempSync(path.join(os.tmpdir(), 'walcast-first-client-'))
  t.teardown(() => fs.rmSync(profiles, { recursive: true, force: true }))
  const env: NodeJS.ProcessEnv = { ...process.env, ...childEnv(tdb, { WALCAST_JWT_SECRET: TEST_JWT_SECRET }), _TAPJS_PROCESSINFO_COVERAGE_: '0' }
  delete env.NODE_V8_COVERAGE
  delete env.NODE_OPTIONS
  // Measured, not counted: a tsx child's coverage would land on the wrong lines.
  const child = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${profiles}`, '--import', 'tsx', path.resolve('src/cli/run.ts'), 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk) => { output += String(chunk) })
  child.stderr.on('data', (chunk) => { output += String(chunk) })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })

  const port = await waitFor(() => {
    const line = output.split('\n').find((l) => l.includes('"http listening"'))
    return line === undefined ? undefined : (JSON.parse(line) as { port: number }).port
  }, 60_000, 'walcast serve to listen')
  // The very first request this process serves is the upgrade.
  const client = await connectWs(t, port, await signToken('1'))
  client.send({ op: 'ping', ref: 1 })
  t.match(await client.next((f) => f.op === 'pong', 10_000), { op: 'pong', ref: 1 }, 'the first client is answered')
  t.equal((await client.subscribeAndWait('user:1')).op, 'subscribed', 'and can subscribe')
  child.kill('SIGTERM')
  t.equal(await exited, 0, 'a clean exit')
})
