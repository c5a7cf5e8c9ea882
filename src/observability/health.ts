import { sql } from 'kysely'
import type { Db } from '../db/database.ts'
import type { IngestStatus } from '../ingest/ingest.ts'
import type { BusStats } from '../bus/bus.ts'
import { httpError, json, type HttpRoute } from '../http/route.ts'

export interface HealthDeps {
  readonly db: Db
  readonly ingestStatus: () => IngestStatus
  /** With several nodes: a node whose hub the bus feeds is ready without holding the slot. */
  readonly busStats?: () => BusStats
  /** The conflated patterns whose state is being built (src/history/latest-per-key-backfill.ts). */
  readonly building?: () => readonly string[]
  /** A database that does not answer within this is as bad as one that is down. */
  readonly timeoutMs?: number
}

/**
 * /healthz: the process answers (restart it when not). /readyz: it is doing its job:
 * the replication stream is streaming and Postgres answers (take it out of rotation and
 * alert when not; the reason says which). With several nodes, a node that follows the
 * bus is ready too; while Redis is down it still serves every event from the history, so
 * it stays in rotation and says `"bus":"down"`. While a newly conflated pattern's state is
 * built from the history both say `"building":[…patterns]` and the node stays ready: it
 * serves everything else, and a state read of those patterns waits a bounded time, then is
 * shed as overload (1013, 503), which a client retries; taking every new node out of
 * rotation while one builds would stall a rolling upgrade on the length of the history.
 */
export function healthRoutes(deps: HealthDeps): HttpRoute[] {
  const timeoutMs = deps.timeoutMs ?? 2000
  const building = (): { building?: readonly string[] } => {
    const patterns = deps.building?.() ?? []
    return patterns.length === 0 ? {} : { building: patterns }
  }
  return [
    { method: 'get', path: '/healthz', handle: () => json(200, { status: 'ok', ...building() }) },
    {
      method: 'get',
      path: '/readyz',
      async handle() {
        const status = deps.ingestStatus()
        const bus = deps.busStats?.()
        const following = bus !== undefined && (bus.follower === 'following' || bus.follower === 'polling')
        if (status.state !== 'streaming' && !following) {
          return httpError(503, 'not_ready', `replication is ${status.state}${status.reason ? `: ${status.reason}` : ''}`)
        }
        const reachable = await databaseAnswers(deps.db, timeoutMs)
        if (reachable !== true) return httpError(503, 'not_ready', `database unreachable: ${reachable}`)
        if (bus === undefined) return json(200, { status: 'ready', ...building() })
        return json(200, { status: 'ready', ingest: status.state, bus: bus.up ? 'up' : 'down', ...building() })
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
