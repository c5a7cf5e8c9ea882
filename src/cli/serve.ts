import type { Config } from '../config.ts'
import type { Logger } from '../log.ts'
import { startService } from '../service.ts'
import { reportFailure } from './main.ts'

/** Runs until SIGTERM/SIGINT, then shuts down gracefully and exits 0. */
export async function runServe(config: Config, log: Logger): Promise<number> {
  const service = await startService(config, log)
  log.info({ slot: config.replication.slot, publication: config.replication.publication, embedded: config.database.url === undefined }, 'walcast running')
  return new Promise<number>((resolve) => {
    let signalled = false
    const shutdown = (signal: string): void => {
      if (signalled) return
      signalled = true
      log.info({ signal }, 'shutting down')
      service.stop().then(() => resolve(0), (err: unknown) => {
        log.error({ err }, 'shutdown failed')
        resolve(1)
      })
    }
    // `on`, not `once`: the listeners stay registered during shutdown, so a second signal
    // does not fall through to the default action (and exit hooks of other libraries
    // do not re-raise the signal) while the in-flight batch is being acknowledged.
    process.on('SIGTERM', () => shutdown('SIGTERM'))
    process.on('SIGINT', () => shutdown('SIGINT'))
    service.ingest.done.catch((err: unknown) => {
      reportFailure(err)
      void service.stop().finally(() => resolve(1))
    })
  })
}
