import t from 'tap'
import { createServer, type Socket } from 'node:net'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { createReplicationStream, type StreamHandler } from '../../src/replication/stream.ts'
import { silentLogger } from '../helpers/log.ts'

const handler: StreamHandler = {
  begin() {},
  change() {},
  message() {},
  truncate() {},
  commit() {},
  isIdle: () => true,
}

// pg's Client.connect() never settles when end() lands mid-connect. A server that accepts
// and never answers holds the connection in exactly that state, every time (CI saw the race
// once against a real Postgres: a stop 5 ms after start-up never returned).
t.test('stop() while the replication connection is still connecting ends run()', async (t) => {
  const sockets: Socket[] = []
  // It reads (and ignores) what the client sends, so the client's close completes.
  const server = createServer((socket) => { sockets.push(socket); socket.resume() })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    server.close()
  })
  const { port } = server.address() as AddressInfo

  const stream = createReplicationStream(
    { connectionString: `postgres://walcast@127.0.0.1:${port}/walcast`, slot: 'walcast', publication: 'walcast', statusIntervalMs: 1000 },
    silentLogger(),
  )
  const running = stream.run(0n, handler).then(() => 'ended', (err: Error) => `failed: ${err.message}`)
  await once(server, 'connection')

  await stream.stop()
  let timer: NodeJS.Timeout | undefined
  const outcome = await Promise.race([
    running,
    new Promise<string>((resolve) => { timer = setTimeout(() => resolve('still running 5 s after stop()'), 5_000) }),
  ])
  clearTimeout(timer)
  t.equal(outcome, 'ended', 'run() returned once stop() had closed the connection')
})
