import net from 'node:net'
import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { startTestService } from '../helpers/service.ts'
import { dropSlotUnderWalcast } from '../helpers/slot.ts'
import { waitFor } from '../helpers/wait.ts'
import { createDatabase } from '../../src/db/database.ts'
import { healthRoutes } from '../../src/observability/health.ts'
import { createSlotRecordingGap } from '../../src/replication/slot-admin.ts'

async function get(port: number, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`)
  return { status: res.status, body: await res.json() }
}

t.test('/readyz is 503 with a reason while replication is stopped and 200 when it is back', async (t) => {
  const tdb = await createTestDatabase(t)
  const service = await startTestService(t, tdb)
  const port = service.http.port
  t.same(await get(port, '/healthz'), { status: 200, body: { status: 'ok' } })
  t.same(await get(port, '/readyz'), { status: 200, body: { status: 'ready' } })

  await dropSlotUnderWalcast(tdb)
  const down = await waitFor(async () => {
    const r = await get(port, '/readyz')
    return r.status === 503 && /missing/.test(r.body.error.message) ? r : undefined
  }, 20_000, '/readyz 503')
  t.same(down.body, { error: { code: 'not_ready', message: `replication is waiting: slot ${tdb.slot} is missing` } })
  t.equal((await get(port, '/healthz')).status, 200, 'the process is still alive')

  // A DBA recreates the slot (walcast slot create): walcast streams again.
  await createSlotRecordingGap(tdb.database.db, service.history, tdb.slot)
  await waitFor(async () => (await get(port, '/readyz')).status === 200, 20_000, '/readyz 200 again')
  t.pass('ready again once the slot is back')
})

t.test('/readyz is 503 when Postgres refuses or does not answer', async (t) => {
  const streaming = () => ({ state: 'streaming' as const, reason: undefined, durableLsn: 0n })
  const find = (routes: ReturnType<typeof healthRoutes>) => routes.find((r) => r.path === '/readyz')!

  const closed = net.createServer()
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
  const closedPort = (closed.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => closed.close(() => resolve()))
  const refused = createDatabase({ url: `postgres://walcast:x@127.0.0.1:${closedPort}/walcast`, poolSize: 1 })
  t.teardown(() => refused.close())
  const r1 = await find(healthRoutes({ db: refused.db, ingestStatus: streaming })).handle({} as never)
  t.equal(r1.status, 503)
  t.match(JSON.parse(String(r1.body)), { error: { code: 'not_ready', message: /^database unreachable: .*ECONNREFUSED/ } })

  // A server that accepts the connection and never answers (a hung Postgres).
  const sockets = new Set<net.Socket>()
  const silent = net.createServer((socket) => { sockets.add(socket) })
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  const hung = createDatabase({ url: `postgres://walcast:x@127.0.0.1:${(silent.address() as net.AddressInfo).port}/walcast`, poolSize: 1 })
  t.teardown(async () => {
    for (const socket of sockets) socket.destroy()
    silent.close()
    await hung.close().catch(() => {})
  })
  const r2 = await find(healthRoutes({ db: hung.db, ingestStatus: streaming, timeoutMs: 200 })).handle({} as never)
  t.equal(r2.status, 503)
  t.same(JSON.parse(String(r2.body)), { error: { code: 'not_ready', message: 'database unreachable: no answer within 200 ms' } })
})
