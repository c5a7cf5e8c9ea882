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
  if (message === 'gc') void collectGarbage()
})
process.once('SIGTERM', () => void stop())
process.send?.({ ready: true, port: peer.port })

/**
 * Started with --expose-gc by the driver: memory phases compare RSS without garbage.
 * Several collections a moment apart, as V8 gives memory back over more than one.
 */
async function collectGarbage(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc
  for (let i = 0; i < 3; i++) {
    gc?.()
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  process.send?.({ gc: true, memory: process.memoryUsage() })
}
