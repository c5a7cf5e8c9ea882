import type { Config } from '../config.ts'
import type { Logger } from '../log.ts'
import { createDatabase } from '../db/database.ts'
import { startEmbeddedPostgres } from '../db/embedded.ts'
import { migrate } from '../db/migrate.ts'

export async function runMigrate(config: Config, log: Logger, json: boolean): Promise<number> {
  const embedded = config.database.url === undefined ? await startEmbeddedPostgres(config.embedded, log) : undefined
  const database = createDatabase({ url: config.database.url ?? embedded!.url, poolSize: 2 })
  try {
    const result = await migrate(database.db)
    if (json) process.stdout.write(`${JSON.stringify(result)}\n`)
    else process.stdout.write(result.applied.length === 0 ? 'schema is up to date\n' : `applied ${result.applied.join(', ')}\n`)
    return 0
  } finally {
    await database.close()
    await embedded?.stop()
  }
}
