import type { Config } from '../config.ts'
import type { Logger } from '../log.ts'
import { createDatabase } from '../db/database.ts'
import { startEmbeddedPostgres } from '../db/embedded.ts'
import { migrate } from '../db/migrate.ts'
import { seedDemoData } from '../demo/seed.ts'
import { startDemoWriter } from '../demo/writer.ts'

/** `walcast demo`: seeds the demo users if the database has none, then writes until SIGTERM. */
export async function runDemo(config: Config, log: Logger, intervalMs = 2000): Promise<number> {
  const embedded = config.database.url === undefined ? await startEmbeddedPostgres(config.embedded, log) : undefined
  const database = createDatabase({ url: config.database.url ?? embedded!.url, poolSize: 2, applicationName: 'walcast-demo' })
  try {
    await migrate(database.db)
    await seedDemoData(database.db, log)
    const writer = startDemoWriter(database.db, log, intervalMs)
    process.stdout.write(`walcast demo writer: a step every ${intervalMs} ms; open the dashboard and sign in as Ada Buyer (user 1)\n`)
    await new Promise<void>((resolve) => {
      process.once('SIGTERM', () => resolve())
      process.once('SIGINT', () => resolve())
    })
    await writer.stop()
    return 0
  } finally {
    await database.close()
    await embedded?.stop()
  }
}
