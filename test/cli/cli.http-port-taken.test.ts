import net from 'node:net'
import t from 'tap'
import { cliEnv, runCli } from '../helpers/cli.ts'
import { createTestDatabase } from '../helpers/db.ts'
import { freePort } from '../helpers/own-server.ts'

t.test('I11, I19: walcast serve with its HTTP port held by another process: one HTTP_LISTEN_FAILED line naming the address and a hint, exit 1, the slot not held', async (t) => {
  const tdb = await createTestDatabase(t)
  const port = await freePort()
  const squatter = net.createServer()
  await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => squatter.close(() => resolve())))

  const result = await runCli(['serve'], cliEnv(tdb, { WALCAST_PORT: String(port) }))
  t.equal(result.code, 1)
  t.equal(result.stderr, `walcast: HTTP_LISTEN_FAILED: cannot listen on 127.0.0.1:${port}: is the port in use?\nhint: set WALCAST_PORT to a free port (0: any), or stop the process that holds it; WALCAST_HOST must be an address of this machine\n`, 'one line and its hint: no "unexpected error", no stack trace')
  const slot = await tdb.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [tdb.slot])
  t.notOk(slot.rows.some((r) => r.active), 'the slot is not held')
})
