import type { StoredEvent } from '../history/event.ts'
import type { HistoryStore } from '../history/store.ts'
import type { Hub } from '../hub/hub.ts'
import { readMerged } from './merged-read.ts'
import { tookEnough } from './stalled.ts'
import { unresumableReason, type ResetReason } from './resume-rule.ts'

/** What a replay needs of a transport: write events, say how full it is, wait for room. */
export interface ReplayTarget {
  /** The topics being replayed (a revocation may shrink them while it runs). */
  topics(): readonly string[]
  /** True once the subscription ended (client left, revoked, closed) or must reset. */
  stopped(): boolean
  /** Writes events in order until the transport's buffer passes `stopAbove` bytes; returns how many it wrote. */
  send(events: readonly StoredEvent[], stopAbove: number): number
  /** Whether all of `events` fit in the buffer without passing the slow-consumer limit. */
  fits(events: readonly StoredEvent[]): boolean
  /** Resolves once the buffer is below the drain level (or the transport closed). */
  drained(): Promise<void>
  /**
   * Bytes the client has taken off the transport so far, a running count, where the
   * transport can tell: the stall rule then closes only a client that took almost nothing
   * in a whole stall window (stalled.ts), not one that reads slowly but steadily.
   */
  taken?(): number
}

export interface ReplayContext {
  readonly hub: Hub
  readonly history: HistoryStore
  readonly pageSize: number
  /** Bytes a replay page may fill the buffer to before it waits for the client. */
  readonly drainLevel: number
  /** How long a client may take no bytes at all before it counts as gone (I9). */
  readonly stallMs: number
}

export type ReplayOutcome =
  | { readonly kind: 'live' }
  | { readonly kind: 'stopped' }
  | { readonly kind: 'stalled' }
  | { readonly kind: 'reset'; readonly reason: ResetReason }

/**
 * Sends every event of the target's topics after `since`, then calls `goLive` with no gap
 * and no duplicate (I3). Old positions are paged from the history, one page at a time and
 * only once the client has drained the last; after every page the resume rule is asked
 * again, so a prune or a gap that overtakes the replay ends it with `reset` instead of a
 * hole (I4). Live events are not queued meanwhile: the next page re-reads them, from the
 * history or from the hub's window, and the final step (window slice, sends, goLive) runs
 * on one tick of the event loop, where the hub cannot publish in between.
 */
export async function replayThenGoLive(ctx: ReplayContext, target: ReplayTarget, since: string, goLive: () => void): Promise<ReplayOutcome> {
  const { hub, history, pageSize, drainLevel } = ctx
  let cursor = since
  for (;;) {
    // A replay waits for the client; one that takes nothing for stallMs would hold its
    // place forever (a paused TCP reader never fills the buffer past the limit).
    if (!(await drainedWithin(target, ctx.stallMs))) return target.stopped() ? { kind: 'stopped' } : { kind: 'stalled' }
    if (target.stopped()) return { kind: 'stopped' }
    if (!hub.isLive()) {
      // Nothing can go live on a hub no ingest feeds (I5): wait, then read on.
      await hub.whenLive()
      continue
    }
    // One more than a page: whether the window holds more than this step sends.
    const recent = hub.recentSince(target.topics(), cursor, pageSize + 1)
    if (recent !== undefined) {
      const batch = recent.slice(0, pageSize)
      if (recent.length === batch.length && target.fits(batch)) {
        if (target.send(batch, Infinity) !== batch.length) return { kind: 'stopped' }
        goLive()
        return { kind: 'live' }
      }
      // Too much left for one step: send what the buffer takes, wait for it to drain.
      cursor = advance(cursor, batch, target.send(batch, drainLevel))
      continue
    }
    // Everything up to `before` is durable, so a page that stops short of it has seen
    // every event of the topics up to there.
    const before = hub.lastId()!
    const page = await readMerged(history, target.topics(), cursor, pageSize)
    const reason = await unresumableReason(history, cursor, hub.head()!)
    if (target.stopped()) return { kind: 'stopped' }
    // The pruner or a recorded gap overtook this replay: the page may have holes.
    if (reason !== undefined) return { kind: 'reset', reason }
    // Events durable but not yet published will also arrive live: leave them for later.
    const published = hub.lastId() ?? before
    const sendable = page.events.filter((event) => event.id <= published)
    const sent = target.send(sendable, drainLevel)
    if (target.stopped()) return { kind: 'stopped' }
    cursor = advance(cursor, sendable, sent)
    const sawEverythingBefore = sent === sendable.length && (page.complete || sendable.length < page.events.length)
    if (sawEverythingBefore && cursor < before) cursor = before
  }
}

function advance(cursor: string, events: readonly StoredEvent[], sent: number): string {
  return sent > 0 ? events[sent - 1]!.id : cursor
}

async function drainedWithin(target: ReplayTarget, ms: number): Promise<boolean> {
  const drained = target.drained().then(() => true as const)
  for (;;) {
    const before = target.taken?.()
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), ms) })
    try {
      if (await Promise.race([drained, timeout])) return true
    } finally {
      clearTimeout(timer)
    }
    if (target.stopped() || !tookEnough(before, target.taken?.())) return false
  }
}
