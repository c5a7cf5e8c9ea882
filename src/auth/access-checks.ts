import { createReadGate, OverloadedError, type ReadGate } from '../subscription/read-gate.ts'

/**
 * The turns of the authorizer's membership lookups (and a follow set's member query):
 * `concurrency` at once, the rest queued first come first served. They do not share the
 * read gate, so a replay storm cannot starve them; but unbounded they queued in pg's pool
 * instead, and a storm of them (every client of a restarted instance subscribing with an
 * empty cache, a locked membership table) outwaited its connection wait (10 s) and failed
 * as internal errors (1011). A check that waited `maxWaitMs` without starting is refused
 * with ACCESS_CHECKS_OVERLOADED: the transport tells its client to come back later (1013,
 * SSE and polling 503 `overloaded`), so the SDK backs off with jitter.
 */
export type AccessGate = ReadGate

export interface AccessGateOptions {
  readonly concurrency: number
  readonly maxWaitMs: number
}

export class AccessChecksOverloadedError extends OverloadedError {
  constructor(waitedMs: number) {
    super('ACCESS_CHECKS_OVERLOADED', `an access check waited ${waitedMs} ms for its turn; the client should come back later`, {
      hint: 'a storm of subscribes or a slow membership table: raise WALCAST_DB_ACCESS_CHECKS (and WALCAST_DB_POOL) or WALCAST_DB_ACCESS_CHECK_WAIT, or look at the database\'s load',
    })
    this.name = 'AccessChecksOverloadedError'
  }
}

export function createAccessGate(options: AccessGateOptions): AccessGate {
  return createReadGate({ ...options, refuse: (waitedMs) => new AccessChecksOverloadedError(waitedMs) })
}
