import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createTestDatabase } from '../helpers/db.ts'
import { childEnv, spawnWalcast } from '../helpers/spawn.ts'
import { TEST_JWT_SECRET, signToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'
import { connectWs } from '../helpers/ws-client.ts'

// uWebSockets.js 20.30 mishandles res.cork(() => res.upgrade()) after an await: it reads
// the HTTP response's memory after the socket moved and may shut the new WebSocket down
// right after the 101. A fresh process's first client under the V8 profiler hit it every
// time (and CI once without it): the client saw `open`, then silence.
t.test('a fresh walcast answers its very first WebSocket client', async (t) => {
  const tdb = await createTestDatabase(t)
  const profiles = fs.mkdtempSync(path.join(os.tmpdir(), 'walcast-first-client-'))
  t.teardown(() => fs.rmSync(profiles, { recursive: true, force: true }))
  // Measured, not counted (plain): a tsx child's coverage would land on the wrong lines.
  const walcast = spawnWalcast(['serve'], childEnv(tdb, { WALCAST_JWT_SECRET: TEST_JWT_SECRET }), { plain: true, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profiles}`] })
  t.teardown(() => { if (walcast.child.exitCode === null) walcast.kill('SIGKILL') })
  const output = (): string => walcast.stdout() + walcast.stderr()

  const port = await waitFor(() => {
    const line = output().split('\n').find((l) => l.includes('"http listening"'))
    return line === undefined ? undefined : (JSON.parse(line) as { port: number }).port
  }, 60_000, 'walcast serve to listen')
  // The very first request this process serves is the upgrade.
  const client = await connectWs(t, port, await signToken('1'))
  client.send({ op: 'ping', ref: 1 })
  t.match(await client.next((f) => f.op === 'pong', 10_000), { op: 'pong', ref: 1 }, 'the first client is answered')
  t.equal((await client.subscribeAndWait('user:1')).op, 'subscribed', 'and can subscribe')
  walcast.kill('SIGTERM')
  t.equal(await walcast.exited, 0, 'a clean exit')
})
