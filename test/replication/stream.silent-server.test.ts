import { once } from 'node:events'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import { createReplicationStream, type StreamHandler } from '../../src/replication/stream.ts'
import { silentLogger } from '../helpers/log.ts'
import { waitFor } from '../helpers/wait.ts'

const handler: StreamHandler = {
  begin() {},
  change() {},
  message() {},
  truncate() {},
  commit() {},
  isIdle: () => true,
}

/** A "server" that accepts connections and never answers (reads and ignores what comes). */
async function silentServer(t: Test): Promise<{ url: string; sockets: Socket[] }> {
  const sockets: Socket[] = []
  const server = createServer((socket) => { sockets.push(socket); socket.resume() })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    server.close()
  })
  return { url: `postgres://walcast@127.0.0.1:${(server.address() as AddressInfo).port}/walcast`, sockets }
}

/** stop(), then what run() did within 5 s of it. */
async function stopThenOutcome(stream: { stop(): Promise<void> }, running: Promise<string>): Promise<string> {
  await stream.stop()
  let timer: NodeJS.Timeout | undefined
  const outcome = await Promise.race([
    running,
    new Promise<string>((resolve) => { timer = setTimeout(() => resolve('still running 5 s after stop()'), 5_000) }),
  ])
  clearTimeout(timer)
  return outcome
}

const options = (url: string, timeoutMs: number) => ({ connectionString: url, slot: 'walcast', publication: 'walcast', statusIntervalMs: 1000, timeoutMs })

t.test('a replication connection that never gets an answer fails after the replication timeout', async (t) => {
  const { url, sockets } = await silentServer(t)
  const stream = createReplicationStream(options(url, 500), silentLogger())
  const started = performance.now()
  const error = await stream.run(0n, handler).then(() => undefined, (err: Error & { code?: string }) => err)
  const ms = performance.now() - started
  t.match(error, { code: 'REPLICATION_FAILED', message: /^nothing from the server for 500 ms \(WALCAST_REPLICATION_TIMEOUT\)/ })
  t.ok(ms >= 450 && ms < 3000, `after ${Math.round(ms)} ms`)
  await waitFor(() => sockets[0]!.destroyed, 5000, 'the connection closed')
  t.pass('walcast closed the connection')
})

t.test('stop() while the replication connection is still connecting ends run() (an explicit timeout: no SHOW first)', async (t) => {
  const { url } = await silentServer(t)
  const stream = createReplicationStream(options(url, 60_000), silentLogger())
  const running = stream.run(0n, handler).then(() => 'ended', (err: Error) => `failed: ${err.message}`)
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(await stopThenOutcome(stream, running), 'ended', 'run() returned once stop() had closed the connection')
})

// pg's Client.connect() never settles when end() lands mid-connect. A server that accepts
// and never answers holds the connection in exactly that state, every time (CI saw the race
// once against a real Postgres: a stop 5 ms after start-up never returned). Without an
// explicit timeout the stream first reads wal_sender_timeout on a connection of its own:
// stop() lands there.
t.test('stop() while the first connection is still connecting ends run() (the default timeout: SHOW first)', async (t) => {
  const { url } = await silentServer(t)
  const stream = createReplicationStream({ connectionString: url, slot: 'walcast', publication: 'walcast', statusIntervalMs: 1000 }, silentLogger())
  const running = stream.run(0n, handler).then(() => 'ended', (err: Error) => `failed: ${err.message}`)
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(await stopThenOutcome(stream, running), 'ended', 'run() returned once stop() had closed the connection')
})
