/**
 * walcast as a child process of the benchmark driver, so its CPU and RSS are its own.
 * Configured by the environment like `walcast serve`; reports its HTTP port over IPC and
 * stops gracefully on a 'stop' message or SIGTERM.
 */
import { loadConfig } from '../../src/config.ts'
import { createLogger } from '../../src/log.ts'
import { startService } from '../../src/service.ts'

const config = loadConfig(process.env)
const log = createLogger(config.log)
const service = await startService(config, log)
for (let i = 0; i < 300 && service.ingest.status().state !== 'streaming'; i++) await new Promise((resolve) => setTimeout(resolve, 50))
const port = service.http.port
const stop = async (): Promise<void> => {
  await service.stop().catch(() => {})
  process.exit(0)
}
process.on('message', (message) => {
  if (message === 'stop') void stop()
  if (message === 'gc') void collectGarbage()
})
process.once('SIGTERM', () => void stop())
process.send?.({ ready: true, port })

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
