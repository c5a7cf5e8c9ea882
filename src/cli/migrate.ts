import type { Config } from '../config.ts'
import type { Logger } from '../log.ts'
import { migrate } from '../db/migrate.ts'
import { withDatabase } from './connect.ts'

export async function runMigrate(config: Config, log: Logger, json: boolean): Promise<number> {
  return withDatabase(config, log, async (database) => {
    const result = await migrate(database.db)
    if (json) process.stdout.write(`${JSON.stringify(result)}\n`)
    else process.stdout.write(result.applied.length === 0 ? 'schema is up to date\n' : `applied ${result.applied.join(', ')}\n`)
    return 0
  })
}
