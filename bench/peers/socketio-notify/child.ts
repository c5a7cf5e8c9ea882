/** The Socket.IO peer in its own process (for the benchmark driver): reports its port over IPC. */
import { serveDriver } from '../../lib/child-ipc.mjs'
import { startSocketIoPeer } from './server.ts'

const peer = await startSocketIoPeer({
  databaseUrl: process.env.DATABASE_URL ?? '',
  secret: process.env.PEER_JWT_SECRET ?? '',
  host: '127.0.0.1',
  port: 0,
})
serveDriver(peer.port, () => peer.close())
