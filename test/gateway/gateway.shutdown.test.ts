import t from 'tap'
import WebSocket from 'ws'
import { createTestDatabase } from '../helpers/db.ts'
import { seedHistory } from '../helpers/history-seed.ts'
import { STREAMING_WAIT_MS, startTestService } from '../helpers/service.ts'
import { childEnv, spawnWalcast } from '../helpers/spawn.ts'
import { adminToken, authEnv, signToken, TEST_JWT_SECRET } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'
import { connectWs, wsUrl } from '../helpers/ws-client.ts'

t.test('stop(): every socket, live or replaying, is closed with 1001 and nothing new is accepted', async (t) => {
  const tdb = await createTestDatabase(t)
  await seedHistory(tdb, 'escrow:3', 20_000, { padding: 100 })
  const service = await startTestService(t, tdb, authEnv())
  const port = service.http.port
  const live = await connectWs(t, port, await signToken('1'))
  t.equal((await live.subscribeAndWait('user:1')).op, 'subscribed')
  const replaying = await connectWs(t, port, await adminToken())
  replaying.subscribe('escrow:3', { since: '0000000000000000-00000000' })
  await waitFor(() => replaying.events().length > 0, 20_000, 'the replay to start')
  replaying.pause()
  const idle = await connectWs(t, port, await signToken('2'))

  await service.stop()
  replaying.resume()
  for (const [name, client] of [['live', live], ['replaying', replaying], ['idle', idle]] as const) {
    const closed = await client.closed
    t.same(closed, { code: 1001, reason: 'server shutting down' }, `${name}: 1001`)
  }
  t.equal(service.gateway.stats().connections, 0)
  const refused = await new Promise<string>((resolve) => {
    const ws = new WebSocket(wsUrl(port, 'x'))
    ws.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message))
    ws.on('open', () => resolve('open'))
  })
  t.equal(refused, 'ECONNREFUSED', 'the port no longer accepts connections')
  t.equal(service.ingest.status().state, 'stopped', 'and the ingest stopped after the sockets closed')
})

t.test('SIGTERM on walcast serve: clients get 1001, the process exits 0', async (t) => {
  const tdb = await createTestDatabase(t)
  const walcast = spawnWalcast(['serve'], childEnv(tdb, { WALCAST_JWT_SECRET: TEST_JWT_SECRET, WALCAST_LOG_LEVEL: 'debug' }))
  t.teardown(() => { if (walcast.child.exitCode === null) walcast.kill('SIGKILL') })
  const output = (): string => walcast.stdout() + walcast.stderr()
  // A failure here has been seen once in a full run and never alone: keep the evidence.
  t.teardown(() => { if (!t.passing()) t.comment(output().split('\n').slice(-60).join('\n')) })
  const port = await waitFor(() => {
    const line = output().split('\n').find((l) => l.includes('"http listening"'))
    return line === undefined ? undefined : (JSON.parse(line) as { port: number }).port
  }, 60_000, 'walcast serve to listen')
  await waitFor(() => output().includes('replication streaming'), STREAMING_WAIT_MS, 'the ingest to stream')

  const token = await signToken('1')
  const client = await connectWs(t, port, token)
  t.equal((await client.subscribeAndWait('user:1')).op, 'subscribed')
  walcast.kill('SIGTERM')
  t.same(await client.closed, { code: 1001, reason: 'server shutting down' })
  t.equal(await walcast.exited, 0, 'a clean exit')
  t.match(output(), /websocket gateway closed/)
  t.match(output(), /walcast stopped/)
  t.notOk(output().includes(token), 'the token never reached the log')
  t.notOk(output().includes(TEST_JWT_SECRET), 'nor the secret')
})
