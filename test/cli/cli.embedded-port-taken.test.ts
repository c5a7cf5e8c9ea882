import fs from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { runCli } from '../helpers/cli.ts'
import { freePort } from '../helpers/own-server.ts'

t.test('I11: the embedded Postgres port held by another server: one EMBEDDED_START_FAILED line naming the port and a hint, exit 1, never "unexpected error: undefined"', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'walcast-port-taken-'))
  // The embedded server runs as the postgres user: it must be able to reach its data dir.
  await fs.chmod(dir, 0o755)
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }))
  const port = await freePort()
  const squatter = net.createServer()
  await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => squatter.close(() => resolve())))

  const result = await runCli(['migrate'], { WALCAST_DATA_DIR: path.join(dir, 'pgdata'), WALCAST_EMBEDDED_PORT: String(port) })
  t.equal(result.code, 1)
  t.match(result.stderr, new RegExp(`^walcast: EMBEDDED_START_FAILED: the embedded Postgres did not start on 127\\.0\\.0\\.1:${port} `))
  t.match(result.stderr, /could not bind|address already in use/i, 'Postgres\'s own reason')
  t.match(result.stderr, /WALCAST_EMBEDDED_PORT/, 'the hint names the setting')
  t.notMatch(result.stderr, /undefined|unexpected error|\n\s+at /, 'no undefined, no stack trace')
})
