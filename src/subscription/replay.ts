import type { StoredEvent } from '../history/event.ts'
import type { HistoryStore } from '../history/store.ts'
import type { Hub } from '../hub/hub.ts'
import { readMerged, type MergedPage } from './merged-read.ts'
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
 * and no duplicate (I3). Old positions are paged from the history; after every page the
 * resume rule is asked again, so a prune or a gap that overtakes the replay ends it with
 * `reset` instead of a hole (I4). A page is written as far as the buffer takes it and the
 * rest is kept, not read again, for when the client has drained; the next page is read
 * while this one is written, so Postgres and the socket work at the same time. While the
 * replay waits for a page, the page after it is read as soon as the awaited page's rows
 * are in, before the awaited page's resume rule answers: Postgres, which sets the pace of
 * a long replay, does not idle through that round trip (at most two pages per replay
 * either way: one being written and one read, or one awaited and one read). Live events
 * are not queued meanwhile: the next page re-reads them, from the history or from the
 * hub's window, and the final step (window slice, sends, goLive) runs on one tick of the
 * event loop, where the hub cannot publish in between.
 */
export async function replayThenGoLive(ctx: ReplayContext, target: ReplayTarget, since: string, goLive: () => void): Promise<ReplayOutcome> {
  const { hub, pageSize, drainLevel } = ctx
  let cursor = since
  // Read from the history and proven complete, not yet written: `step.events[sent..]`.
  let step: HistoryStep | undefined
  let sent = 0
  // The step after `step`, being read meanwhile.
  let next: PendingStep | undefined
  // The step after `next`, read while the replay waits for `next` and holds no page.
  let ahead: PendingStep | undefined
  // History pages grow while the client takes each whole (fewer round trips per event),
  // up to PAGE_GROWTH pages; one it does not take brings them back to a page.
  let limit = pageSize
  // A step read ahead was proven complete before a gap, resync or fence the hub signals
  // since: it is read again, so the resume rule is asked after the signal (I4, I6).
  const dropReads = (): void => {
    next = undefined
    ahead = undefined
  }
  const unsubscribe = hub.onSignal(dropReads)
  try {
    return await replaySteps()
  } finally {
    unsubscribe()
  }

  async function replaySteps(): Promise<ReplayOutcome> {
    for (;;) {
      // A replay waits for the client; one that takes nothing for stallMs would hold its
      // place forever (a paused TCP reader never fills the buffer past the limit).
      if (!(await drainedWithin(target, ctx.stallMs))) return target.stopped() ? { kind: 'stopped' } : { kind: 'stalled' }
      if (target.stopped()) return { kind: 'stopped' }
      // A revocation shrinks the topics: what was read for the old ones is read again.
      if (step !== undefined && !sameTopics(step.topics, target.topics())) {
        step = undefined
        dropReads()
      }
      if (step === undefined) {
        if (!hub.isLive()) {
          // Nothing can go live on a hub no ingest feeds (I5): wait, then read on.
          dropReads()
          await hub.whenLive()
          continue
        }
        // One more than a page: whether the window holds more than this step sends.
        const recent = hub.recentSince(target.topics(), cursor, pageSize + 1)
        if (recent !== undefined) {
          dropReads()
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
        const pending = next ?? readStep(ctx, target.topics(), cursor, limit)
        next = pending
        void pending.pageEnd.then((end) => {
          // Still waiting for this very read (no signal, no revocation dropped it since).
          if (end === undefined || next !== pending || ahead !== undefined || !hub.isLive() || !sameTopics(pending.topics, target.topics())) return
          ahead = readStep(ctx, pending.topics, end, limit)
        })
        const read = await pending.step
        const following = ahead
        next = undefined
        ahead = undefined
        if (target.stopped()) return { kind: 'stopped' }
        // The pruner or a recorded gap overtook this replay: the page may have holes.
        if (read.reason !== undefined) return { kind: 'reset', reason: read.reason }
        step = read
        sent = 0
        // Read the step after this one while this one is written. Not once it reached the
        // durable end (`before`): the hub's window or the live stream takes over from there.
        if (read.more && sameTopics(read.topics, target.topics())) {
          next = following !== undefined && following.from === read.after && sameTopics(following.topics, read.topics)
            ? following
            : readStep(ctx, read.topics, read.after, limit)
        }
      }
      if (sent < step.events.length) {
        const whole = sent === 0
        const wrote = target.send(whole ? step.events : step.events.slice(sent), drainLevel)
        if (target.stopped()) return { kind: 'stopped' }
        sent += wrote
        cursor = advance(cursor, step.events, sent)
        limit = whole && sent === step.events.length ? Math.min(limit * 2, pageSize * PAGE_GROWTH) : pageSize
        if (sent < step.events.length) continue
      }
      cursor = step.after
      step = undefined
    }
  }
}

/** One history page of a replay, proven complete by the resume rule, and where the replay stands after it. */
interface HistoryStep {
  readonly topics: readonly string[]
  /** Durable, published events after the step's start, in id order. */
  readonly events: readonly StoredEvent[]
  /** The cursor once every event of the step is written. */
  readonly after: string
  /** Whether history may hold more before the durable end seen at the read. */
  readonly more: boolean
  readonly reason?: ResetReason
}

/** A step being read: the step once proven, and, sooner, where the page after it starts. */
interface PendingStep {
  readonly topics: readonly string[]
  /** The cursor the step is read from. */
  readonly from: string
  readonly step: Promise<HistoryStep>
  /**
   * Once the page's rows are in: the id the following page starts after, or undefined
   * when the page was not full (nothing to read ahead) or the read failed.
   */
  readonly pageEnd: Promise<string | undefined>
}

function readStep(ctx: ReplayContext, topics: readonly string[], cursor: string, limit: number): PendingStep {
  const { hub, history } = ctx
  // Everything up to `before` is durable, so a page that stops short of it has seen
  // every event of the topics up to there.
  const before = hub.lastId()!
  const page = readMerged(history, topics, cursor, limit)
  const pageEnd = page.then((p) => (p.complete || p.events.length === 0 ? undefined : p.events[p.events.length - 1]!.id), () => undefined)
  const step = page.then(async (p) => {
    const reason = await unresumableReason(history, cursor, hub.head()!)
    if (reason !== undefined) return { topics, events: [], after: cursor, more: false, reason }
    return provenStep(hub, topics, cursor, before, p)
  })
  // A replay that ends first leaves it unread: its failure must not go unhandled.
  step.catch(() => {})
  return { topics, from: cursor, step, pageEnd }
}

function provenStep(hub: Hub, topics: readonly string[], cursor: string, before: string, page: MergedPage): HistoryStep {
  // Events durable but not yet published will also arrive live: leave them for later.
  const published = hub.lastId() ?? before
  const all = page.events
  const events = all.length === 0 || all[all.length - 1]!.id <= published ? all : all.filter((event) => event.id <= published)
  let after = events.length > 0 ? events[events.length - 1]!.id : cursor
  const sawEverythingBefore = page.complete || events.length < page.events.length
  if (sawEverythingBefore && after < before) after = before
  return { topics, events, after, more: !sawEverythingBefore }
}

/** How many pages a history read may grow to (memory: two reads of it per replay, at most). */
const PAGE_GROWTH = 4

function sameTopics(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
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
