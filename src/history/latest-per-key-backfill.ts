import { sql } from 'kysely'
import type { ConflatedTopics } from '../catalog/conflation.ts'
import type { Db } from '../db/database.ts'
import type { Logger } from '../log.ts'
import { OverloadedError } from '../subscription/read-gate.ts'
import { latestPerKeyToBuild, syncLatestPerKey, type LatestPerKeySync, type LatestPerKeySyncControl } from './latest-per-key.ts'

/**
 * The latest-per-key sync (src/history/latest-per-key.ts) in the background, so a node
 * serves while a newly conflated pattern's state is built from a long history
 * (docs/operations.md, "A new conflated pattern in a rolling upgrade"). Until the sync
 * commits, a state read of a pattern being built waits for it, at most `maxWaitMs`, and
 * is then refused as overload (STATE_BUILDING: 1013, 503 `overloaded`; I18): the table
 * holds no state of that pattern yet, or one under its old key spec, and a state read
 * never answers from it (I17). Every other read goes on at once. A sync that fails is
 * logged and tried again, later and later; one that failed or was stopped never marked
 * its pattern built (a new pattern's chunks done are kept and read over again), so
 * nothing half-built is ever read.
 */
export interface LatestPerKeyBackfill {
  /** The patterns whose state is being built; empty once the sync committed. */
  building(): readonly string[]
  /** Undefined when `topic`'s state may be read now; else settles when it may, or rejects with StateBuildingError. */
  ready(topic: string): Promise<void> | undefined
  /** Resolves when the sync committed; never rejects (it is retried until it commits or stop). */
  readonly synced: Promise<LatestPerKeySync>
  /** Cancels a sync in progress (its transaction in progress rolls back) and any retry; refuses waiting reads. */
  stop(): Promise<void>
}

export interface LatestPerKeyBackfillOptions {
  /** How long a state read waits for its pattern's state before it is refused as overload. */
  readonly maxWaitMs: number
  /** The first retry's delay after a failed sync; doubled on each failure up to `retryMaxMs`. */
  readonly retryMs?: number
  readonly retryMaxMs?: number
  /** History rows per chunk of a new pattern's build (syncLatestPerKey). */
  readonly chunkRows?: number
  readonly log: Logger
}

export class StateBuildingError extends OverloadedError {
  constructor(waitedMs: number) {
    super('STATE_BUILDING', `a conflated topic's state read waited ${waitedMs} ms for the state to be built from the history; the client should come back later`, {
      hint: 'a newly conflated pattern (or a changed key spec) is being built from the history: see docs/operations.md, "A new conflated pattern in a rolling upgrade"',
    })
    this.name = 'StateBuildingError'
  }
}

interface Waiter {
  readonly resolve: () => void
  readonly reject: (err: Error) => void
  readonly timer: NodeJS.Timeout
}

export async function startLatestPerKeyBackfill(db: Db, conflated: ConflatedTopics | undefined, options: LatestPerKeyBackfillOptions): Promise<LatestPerKeyBackfill> {
  const { log } = options
  const retryMs = options.retryMs ?? 1000
  const retryMaxMs = options.retryMaxMs ?? 60_000
  // Read before anything is served, so no state read can slip in before it is known to wait.
  const pending = new Set(await latestPerKeyToBuild(db, conflated))
  if (pending.size > 0) log.info({ building: [...pending] }, 'building conflated topics\' state from the history in the background; their state reads wait for it')
  const waiters = new Set<Waiter>()
  let markSynced!: (result: LatestPerKeySync) => void
  const synced = new Promise<LatestPerKeySync>((resolve) => { markSynced = resolve })
  let stopped = false
  // The backend of the sync's own connection while the sync holds it (never after: see
  // LatestPerKeySyncControl), and the cancel a stop sent it, which the sync waits for
  // before it lets that connection go.
  let backend: number | undefined
  let cancelling: Promise<void> | undefined
  const control: LatestPerKeySyncControl = {
    onBackend: (pid) => { backend = pid },
    beforeRelease: async () => {
      backend = undefined
      await cancelling
    },
    stopped: () => stopped,
  }
  let retry: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined

  const settle = (fail?: Error): void => {
    for (const waiter of waiters) {
      clearTimeout(waiter.timer)
      if (fail === undefined) waiter.resolve()
      else waiter.reject(fail)
    }
    waiters.clear()
  }

  const attempt = (failures: number): void => {
    const started = Date.now()
    running = syncLatestPerKey(db, conflated, { log, control, chunkRows: options.chunkRows }).then(
      (result) => {
        if (result.built.length > 0) log.info({ built: result.built, ms: Date.now() - started }, 'conflated topics\' state built; their state reads go on')
        pending.clear()
        settle()
        markSynced(result)
      },
      (err: unknown) => {
        if (stopped) return
        const delayMs = Math.min(retryMaxMs, retryMs * 2 ** failures)
        log.error({ err, building: [...pending], retryInMs: delayMs }, 'building conflated topics\' state failed (rolled back); will try again')
        retry = setTimeout(() => attempt(failures + 1), delayMs)
      },
    )
  }
  attempt(0)

  return {
    building: () => [...pending],
    ready(topic) {
      if (pending.size === 0) return undefined
      const pattern = conflated?.patternOf(topic)
      if (pattern === undefined || !pending.has(pattern)) return undefined
      if (stopped) return Promise.reject(new StateBuildingError(0))
      return new Promise<void>((resolve, reject) => {
        const waiter: Waiter = {
          resolve,
          reject,
          timer: setTimeout(() => {
            waiters.delete(waiter)
            reject(new StateBuildingError(options.maxWaitMs))
          }, options.maxWaitMs),
        }
        waiters.add(waiter)
      })
    },
    synced,
    async stop() {
      stopped = true
      clearTimeout(retry)
      settle(new StateBuildingError(0))
      // A stop mid-backfill cancels its statement: the transaction in progress rolls back,
      // no pattern is marked built, and the next start builds it again. `backend` is set
      // only while the sync holds that connection, and the sync keeps it until this
      // cancel is done, so the cancel never reaches a statement the pool lent the
      // connection to afterwards. Between two statements the cancel is dropped; the sync
      // then stops at the next one.
      if (backend !== undefined) cancelling = sql`SELECT pg_cancel_backend(${backend})`.execute(db).then(() => {}, () => {})
      await cancelling
      await running
    },
  }
}
