import { sql } from 'kysely'
import type { Db } from '../db/database.ts'
import type { IngestStatus } from '../ingest/ingest.ts'
import { httpError, json, type HttpRoute } from '../http/route.ts'

export interface HealthDeps {
  readonly db: Db
  readonly ingestStatus: () => IngestStatus
  /** A database that does not answer within this is as bad as one that is down. */
  readonly timeoutMs?: number
}

/**
 * /healthz: the process answers (restart it when not). /readyz: it is doing its job:
 * the replication stream is streaming and Postgres answers (take it out of rotation and
 * alert when not; the reason says which).
 */
export function healthRoutes(deps: HealthDeps): HttpRoute[] {
  const timeoutMs = deps.timeoutMs ?? 2000
  return [
    { method: 'get', path: '/healthz', handle: () => json(200, { status: 'ok' }) },
    {
      method: 'get',
      path: '/readyz',
      async handle() {
        const status = deps.ingestStatus()
        if (status.state !== 'streaming') {
          return httpError(503, 'not_ready', `replication is ${status.state}${status.reason ? `: ${status.reason}` : ''}`)
        }
        const reachable = await databaseAnswers(deps.db, timeoutMs)
        if (reachable !== true) return httpError(503, 'not_ready', `database unreachable: ${reachable}`)
        return json(200, { status: 'ready' })
      },
    },
  ]
}

async function databaseAnswers(db: Db, timeoutMs: number): Promise<true | string> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs)
  })
  try {
    return await Promise.race([sql`SELECT 1`.execute(db).then(() => true as const, (err: unknown) => (err as Error).message), timeout])
  } finally {
    clearTimeout(timer)
  }
}
