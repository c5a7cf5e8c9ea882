/**
 * walcast as a child process of the benchmark driver, so its CPU and RSS are its own:
 * the build (dist/) on plain node, as `walcast serve` runs, with no TypeScript loader in
 * the measured process. Configured by the environment like `walcast serve`; reports its
 * HTTP port over IPC and stops gracefully on a 'stop' message or SIGTERM.
 */
import { loadConfig } from '../../dist/config.js'
import { createLogger } from '../../dist/log.js'
import { startService } from '../../dist/service.js'
import { serveDriver } from './child-ipc.mjs'

const config = loadConfig(process.env)
const log = createLogger(config.log)
const service = await startService(config, log)
// A gateway node never ingests: nothing to wait for.
for (let i = 0; i < 300 && config.bus.role !== 'gateway' && service.ingest.status().state !== 'streaming'; i++) await new Promise((resolve) => setTimeout(resolve, 50))
serveDriver(service.http.port, () => service.stop())
