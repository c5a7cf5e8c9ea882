/** The Socket.IO peer in its own process (for the benchmark driver): reports its port over IPC. */
import { startSocketIoPeer } from './server.ts'

const peer = await startSocketIoPeer({
  databaseUrl: process.env.DATABASE_URL ?? '',
  secret: process.env.PEER_JWT_SECRET ?? '',
  host: '127.0.0.1',
  port: 0,
})
const stop = async (): Promise<void> => {
  await peer.close().catch(() => {})
  process.exit(0)
}
process.on('message', (message) => {
  if (message === 'stop') void stop()
})
process.once('SIGTERM', () => void stop())
process.send?.({ ready: true, port: peer.port })
