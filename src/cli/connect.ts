import fs from 'node:fs/promises'
import path from 'node:path'
import type { Config } from '../config.ts'
import type { Logger } from '../log.ts'
import { redactUrl } from '../log.ts'
import { checkReachable, createDatabase, type Database } from '../db/database.ts'
import { embeddedUrl, startEmbeddedPostgres, type EmbeddedServer } from '../db/embedded.ts'

/**
 * Runs `work` against the configured database: DATABASE_URL, or the embedded default.
 * An embedded server that `walcast serve` already runs is used as it is (starting it a
 * second time would fail); otherwise it is started for the command and stopped after.
 */
export async function withDatabase<T>(config: Config, log: Logger, work: (database: Database) => Promise<T>): Promise<T> {
  let embedded: EmbeddedServer | undefined
  let url = config.database.url
  if (url === undefined) {
    if (await embeddedRunning(config.embedded.dataDir)) url = embeddedUrl(config.embedded.port)
    else {
      embedded = await startEmbeddedPostgres(config.embedded, log)
      url = embedded.url
    }
  }
  const database = createDatabase({ url, poolSize: 2, applicationName: 'walcast-cli' })
  try {
    await checkReachable(database.pool, redactUrl(url))
    return await work(database)
  } finally {
    await database.close()
    await embedded?.stop()
  }
}

async function embeddedRunning(dataDir: string): Promise<boolean> {
  const text = await fs.readFile(path.join(dataDir, 'postmaster.pid'), 'utf8').catch(() => undefined)
  const pid = Number.parseInt(text?.split('\n')[0] ?? '', 10)
  if (!(pid > 0)) return false
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
