import { WalcastError } from '../errors.ts'
import type { HistoryStore } from '../history/store.ts'

/**
 * The history reads of subscriptions (resume checks, replay pages, polling) queue here,
 * first come first served, at most `concurrency` at once: fewer than the pool holds, so
 * replays never take the whole pool and connections stay free for authorization,
 * heartbeats, the pruner and health checks. Queued in pg's pool instead, a resume storm's
 * reads outwait its bounded connection wait (10 s) and fail as internal errors (1011). A
 * read that waited `maxWaitMs` without starting is refused with READS_OVERLOADED: the
 * transport tells its client to come back later (1013, whose class makes the SDK back off
 * with jitter), never that the server failed.
 */
export interface ReadGate {
  run<T>(read: () => Promise<T>): Promise<T>
  stats(): ReadGateStats
}

export interface ReadGateStats {
  /** Reads in Postgres now. */
  readonly running: number
  /** Reads waiting for a turn. */
  readonly waiting: number
  /** Reads refused after waiting the whole bound, since start. */
  readonly shed: number
}

export interface ReadGateOptions {
  readonly concurrency: number
  readonly maxWaitMs: number
  /** The error a read refused after `maxWaitMs` gets (access checks have their own, src/auth/access-checks.ts). */
  readonly refuse?: (waitedMs: number) => OverloadedError
}

/** Work walcast refused for load: transports answer "come back later" (1013, 503 `overloaded`), never a failure. */
export abstract class OverloadedError extends WalcastError {}

export class ReadsOverloadedError extends OverloadedError {
  constructor(waitedMs: number) {
    super('READS_OVERLOADED', `a history read waited ${waitedMs} ms for one of the connections replays may use; the client should come back later`, {
      hint: 'a resume storm or a slow database: raise WALCAST_DB_POOL (and WALCAST_DB_REPLAY_READS) or WALCAST_DB_REPLAY_WAIT, or look at the database\'s load',
    })
    this.name = 'ReadsOverloadedError'
  }
}

export function isOverloaded(err: unknown): boolean {
  return err instanceof OverloadedError
}

interface Waiter {
  readonly start: () => void
  readonly timer: NodeJS.Timeout
}

export function createReadGate(options: ReadGateOptions): ReadGate {
  const refuse = options.refuse ?? ((waitedMs: number) => new ReadsOverloadedError(waitedMs))
  const waiting: Waiter[] = []
  let running = 0
  let shed = 0

  function done(): void {
    running--
    const next = waiting.shift()
    if (next === undefined) return
    clearTimeout(next.timer)
    running++
    next.start()
  }

  return {
    run(read) {
      if (running < options.concurrency && waiting.length === 0) {
        running++
        return read().finally(done)
      }
      return new Promise((resolve, reject) => {
        const waiter: Waiter = {
          start: () => { read().then(resolve, reject).finally(done) },
          timer: setTimeout(() => {
            const at = waiting.indexOf(waiter)
            if (at === -1) return
            waiting.splice(at, 1)
            shed++
            reject(refuse(options.maxWaitMs))
          }, options.maxWaitMs),
        }
        waiting.push(waiter)
      })
    },
    stats: () => ({ running, waiting: waiting.length, shed }),
  }
}

/**
 * The history's reads through `gate`; everything else is the store's own. Methods are
 * looked up on each call (tests watch the store by replacing its methods).
 */
export function gatedHistory(history: HistoryStore, gate: ReadGate): HistoryStore {
  const gated: Partial<HistoryStore> = {
    readSince: (topic, after, limit) => gate.run(() => history.readSince(topic, after, limit)),
    readSinceEach: (topics, after, limit) => gate.run(() => history.readSinceEach(topics, after, limit)),
    readAfter: (after, limit) => gate.run(() => history.readAfter(after, limit)),
    lastId: () => gate.run(() => history.lastId()),
    horizon: () => gate.run(() => history.horizon()),
    lastGapEnd: () => gate.run(() => history.lastGapEnd()),
    lastGapEndAtOrBefore: (lsn) => gate.run(() => history.lastGapEndAtOrBefore(lsn)),
  }
  return Object.create(history, Object.fromEntries(Object.entries(gated).map(([name, value]) => [name, { value }]))) as HistoryStore
}
