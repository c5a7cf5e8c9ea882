import { execSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { DEMO_JWT_SECRET, loadConfig } from '../../src/config.ts'
import { startService } from '../../src/service.ts'
import { capturingLogger } from '../helpers/log.ts'
import { signToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'
import { freePort } from '../helpers/own-server.ts'
import { connectWs } from '../helpers/ws-client.ts'

/** The token one-liner of docs/protocol.md, run as written (inside `TOKEN=$(…)`). */
function mintTokenAsDocumented(secret: string): string {
  const doc = fs.readFileSync('docs/protocol.md', 'utf8')
  const line = doc.split('\n').find((l) => l.startsWith('TOKEN=$('))
  if (line === undefined) throw new Error('docs/protocol.md lost its token one-liner')
  const command = line.slice('TOKEN=$('.length, -1)
  return execSync(command, { env: { ...process.env, WALCAST_JWT_SECRET: secret }, encoding: 'utf8' }).trim()
}

t.test('the embedded demo: a token minted as docs/protocol.md shows gets in', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'walcast-demo-'))
  // initdb runs as the postgres user: it must be able to enter the directory.
  fs.chmodSync(dir, 0o755)
  const capture = capturingLogger('info')
  const config = loadConfig({ WALCAST_DATA_DIR: path.join(dir, 'pgdata'), WALCAST_EMBEDDED_PORT: String(await freePort()), WALCAST_PORT: '0', WALCAST_LOG_LEVEL: 'info' }, dir)
  t.equal(config.auth.secret, DEMO_JWT_SECRET, 'no key configured, embedded: the demo secret')
  const service = await startService(config, capture.log)
  t.teardown(async () => {
    await service.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  })
  await waitFor(() => service.ingest.status().state === 'streaming', 60_000, 'ingest streaming')
  t.ok(capture.lines().some((l) => l.includes('published demo secret')), 'walcast warns that it accepts the demo secret')

  const token = mintTokenAsDocumented(DEMO_JWT_SECRET)
  const client = await connectWs(t, service.http.port, token)
  t.equal((await client.subscribeAndWait('escrow:1', { since: '0000000000000000-00000000' })).op, 'subscribed', 'the admin token of the docs reads a demo escrow')
  await service.database.pool.query(`UPDATE escrows SET status = 'in_progress' WHERE id = 1`)
  // The seed's own events come first: it is made once the ingest's slot exists (src/demo/seed.ts).
  const event = await client.next((f) => f.op === 'event' && (f.data as { to?: string }).to === 'in_progress', 30_000)
  t.same(event.data, { escrowId: '1', from: 'funded', to: 'in_progress' })

  const forged = await connectWs(t, service.http.port, await signToken('1', { secret: 'not-the-demo-secret-not-the-demo-secret' }))
  t.equal((await forged.closed).code, 4401, 'any other secret is refused')
  t.notOk(capture.lines().some((l) => l.includes(token)), 'the token is never logged')
})
