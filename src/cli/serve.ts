import type { Config } from '../config.ts'
import type { Logger } from '../log.ts'
import { startService } from '../service.ts'
import { reportFailure } from './main.ts'

/** Runs until SIGTERM/SIGINT, then shuts down gracefully and exits 0. */
export async function runServe(config: Config, log: Logger): Promise<number> {
  const service = await startService(config, log)
  const embedded = config.database.url === undefined
  log.info({ slot: config.replication.slot, publication: config.replication.publication, embedded }, 'walcast running')
  if (embedded) {
    // Printed whole, password included, on purpose: the embedded server is a local dev
    // database on 127.0.0.1 whose password is the published default (src/db/embedded.ts),
    // and this line is how a DBA points psql or DATABASE_URL at it. A DATABASE_URL of
    // one's own is never logged this way (its password is a secret: see redactUrl).
    log.info({ connectionString: service.connectionString }, `embedded postgres: psql ${service.connectionString}`)
  }
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
