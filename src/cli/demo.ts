import type { Config } from '../config.ts'
import type { Logger } from '../log.ts'
import { createDatabase } from '../db/database.ts'
import { startEmbeddedPostgres } from '../db/embedded.ts'
import { migrate } from '../db/migrate.ts'
import { loadCatalog } from '../catalog/loader.ts'
import { ensureCatalogSchema } from '../catalog/schema.ts'
import { startDemoWriter } from '../demo/writer.ts'
import { CatalogError } from '../errors.ts'

/** `walcast demo`: seeds the catalog's demo data if the database has none, then writes until SIGTERM. */
export async function runDemo(config: Config, log: Logger, intervalMs = 2000): Promise<number> {
  const catalog = await loadCatalog(config.catalog)
  const demo = catalog.demo
  if (demo === undefined) throw new CatalogError(catalog.name, 'has no demo', 'give the catalog demo: { seed, script } to use walcast demo')
  const embedded = config.database.url === undefined ? await startEmbeddedPostgres(config.embedded, log) : undefined
  const database = createDatabase({ url: config.database.url ?? embedded!.url, poolSize: 2, applicationName: 'walcast-demo' })
  try {
    await migrate(database.db)
    await ensureCatalogSchema(database.db, catalog)
    await demo.seed(database.db, log)
    const writer = startDemoWriter(database.db, log, intervalMs, demo)
    process.stdout.write(`walcast demo writer (${catalog.name}): a step every ${intervalMs} ms${demo.signIn === undefined ? '' : `; open the dashboard and ${demo.signIn}`}\n`)
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
