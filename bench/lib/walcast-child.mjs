/**
 * walcast as a child process of the benchmark driver, so its CPU and RSS are its own:
 * the build (dist/) on plain node, as `walcast serve` runs, with no TypeScript loader in
 * the measured process. Configured by the environment like `walcast serve`; reports its
 * HTTP port over IPC and stops gracefully on a 'stop' message or SIGTERM.
 * A `{ watch: topic }` message makes it count what its hub publishes (all events, and
 * those of `topic`), answered by `{ published }` on each 'published' message: the ingest
 * phases learn that a backlog is durable and published without a client in the way.
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
const published = { events: 0, watched: 0 }
process.on('message', (message) => {
  if (message !== null && typeof message === 'object' && typeof message.watch === 'string') {
    const topic = message.watch
    service.hub.subscribe((events) => {
      published.events += events.length
      for (const event of events) if (event.topics.includes(topic)) published.watched++
    })
  }
  if (message === 'published') process.send?.({ published })
  // Where the gateway's sockets stand, for a phase whose clients did not catch up: the ones
  // with a replay waiting for a drain, or a subscription not live.
  if (message === 'sockets') {
    const sockets = service.gateway.sockets().filter((s) => s.drainWaiters > 0 || s.subscriptions.some((sub) => sub.state !== 'live'))
    process.send?.({ sockets: { open: service.gateway.stats().connections, notLive: sockets.slice(0, 50), notLiveCount: sockets.length, reads: service.subscriptions.readStats() } })
  }
})
serveDriver(service.http.port, () => service.stop())
