import type { BusEntry } from './entry.ts'

/** Where a follower stands: the last entry it applied and the newest event its hub holds. */
export interface ChainCursor {
  /** undefined right after (re)attaching: no entry applied yet, only the history read. */
  readonly epoch: string | undefined
  readonly n: number
  /** The newest event id delivered to the hub (or the head the hub went live at). */
  readonly position: string
  /** The end of the newest gap the hub was told about. */
  readonly gapEnd: bigint | undefined
}

export type ChainStep =
  /** Already applied (a resent XADD): skip it. */
  | { readonly kind: 'duplicate' }
  /** Follows what was applied: apply it. */
  | { readonly kind: 'apply' }
  /** Something between the cursor and this entry is missing: read it from the history first. */
  | { readonly kind: 'break'; readonly reason: 'sequence' | 'chain' | 'unseen_gap' }

/**
 * The chain rule (I12): an entry is applied only when it provably follows the cursor —
 * the next number of the same ingest run, or the first entry of a new run — its `prev`
 * is not past the cursor, and it announces no gap the cursor has not heard of. Anything
 * else is a break: an XADD lost while Redis was down, entries trimmed before they were
 * read, a follower that attached late.
 */
export function nextStep(cursor: ChainCursor, entry: BusEntry): ChainStep {
  const startsRun = entry.kind === 'live' && entry.n === 1 && entry.epoch !== cursor.epoch
  if (!startsRun) {
    if (cursor.epoch === entry.epoch) {
      if (entry.n <= cursor.n) return { kind: 'duplicate' }
      if (entry.n !== cursor.n + 1) return { kind: 'break', reason: 'sequence' }
    } else if (cursor.epoch !== undefined) {
      return { kind: 'break', reason: 'sequence' }
    }
  }
  // A `live` entry carries the history's head itself: going live there covers the rest.
  if (entry.kind !== 'live' && entry.prev > cursor.position) return { kind: 'break', reason: 'chain' }
  if (entry.kind !== 'gap' && entry.kind !== 'live' && newer(entry.gapEnd, cursor.gapEnd)) return { kind: 'break', reason: 'unseen_gap' }
  return { kind: 'apply' }
}

/** Whether gap end `a` is later than `b` (undefined: no gap). */
export function newer(a: bigint | undefined, b: bigint | undefined): boolean {
  return a !== undefined && (b === undefined || a > b)
}
