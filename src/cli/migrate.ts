import type { Config } from '../config.ts'
import type { Logger } from '../log.ts'
import { migrate } from '../db/migrate.ts'
import { loadCatalog } from '../catalog/loader.ts'
import { ensureCatalogSchema } from '../catalog/schema.ts'
import { checkCatalogAgainstDatabase } from '../catalog/validate.ts'
import { withDatabase } from './connect.ts'

/** walcast's own numbered migrations, then the selected catalog's tables if one is missing. */
export async function runMigrate(config: Config, log: Logger, json: boolean): Promise<number> {
  const catalog = await loadCatalog(config.catalog)
  return withDatabase(config, log, async (database) => {
    const result = await migrate(database.db)
    const schema = await ensureCatalogSchema(database.db, catalog)
    await checkCatalogAgainstDatabase(database.db, catalog)
    if (json) process.stdout.write(`${JSON.stringify({ ...result, catalog: { name: catalog.name, schema } })}\n`)
    else {
      if (result.applied.length > 0) process.stdout.write(`applied ${result.applied.join(', ')}\n`)
      if (schema === 'applied') process.stdout.write(`catalog ${catalog.name}: schema applied\n`)
      if (result.applied.length === 0 && schema !== 'applied') process.stdout.write('schema is up to date\n')
    }
    return 0
  })
}
