import { gapMark } from '../event-id.ts'
import type { StoredEvent } from '../history/event.ts'
import type { HubResumeFacts } from '../subscription/resume-rule.ts'

export type HubListener = (events: readonly StoredEvent[]) => void

/**
 * What happened to the stream besides new events. Delivered in order with the batches:
 * - `gap`: the ingest recorded a gap (slot recreated, TRUNCATE, history ahead of the
 *   WAL): nothing before `head` can be proven complete; every live subscription is reset.
 * - `resync`: this hub went live again at a head beyond what it published (another
 *   instance streamed meanwhile): events after `from` never passed through it.
 * - `live` / `paused`: whether an ingest streams into this hub now.
 * - `fence`: access may have changed with no event naming it; fence listeners re-check.
 */
export type HubSignal =
  | { readonly kind: 'gap'; readonly head: string; readonly reason: string }
  | { readonly kind: 'resync'; readonly from: string; readonly head: string }
  | { readonly kind: 'live'; readonly head: string }
  | { readonly kind: 'paused' }
  | { readonly kind: 'fence'; readonly head: string }

export type SignalListener = (signal: HubSignal) => void
export type FenceListener = () => Promise<void>

export interface HubLog {
  error(obj: object, msg: string): void
}

/**
 * In-process fan-out of durable events, in id order, plus a window of the most recent
 * ones so a subscriber can switch from replay to live without a gap on one tick of the
 * event loop. A multi-node bus plugs in behind the same interface.
 */
export interface Hub {
  /** Only durable events, strictly increasing ids, only while live. */
  publish(events: readonly StoredEvent[]): void
  subscribe(listener: HubListener): () => void
  onSignal(listener: SignalListener): () => void
  onFence(listener: FenceListener): () => void
  /**
   * Events of `topics` with an id greater than `after` (the first `limit` of them), if the
   * window provably holds all of them; undefined when some may have left the window (read
   * the history instead).
   */
  recentSince(topics: readonly string[], after: string, limit?: number): StoredEvent[] | undefined
  /**
   * The newest gap that matters to `position`, when this hub can prove it without the
   * history (src/subscription/resume-rule.ts): live, with every event after `position` in
   * its window. Undefined otherwise: the history answers.
   */
  resumeFacts(position: string): HubResumeFacts | undefined
  /** What the recent window holds now: events, and their estimated bytes (approximateBytes). */
  window(): { readonly events: number; readonly bytes: number }
  /** The newest published id (or the head it went live at); undefined before it ever went live. */
  lastId(): string | undefined
  /**
   * The position subscriptions stand at: the newest published id, or the mark of the
   * newest gap when that is later (what `reset` and `subscribed` hand out as `head`).
   */
  head(): string | undefined
  /** Whether an ingest streams into this hub now (invariant I5: only a live hub attaches). */
  isLive(): boolean
  /** Resolves once the hub is live (at once if it is). */
  whenLive(): Promise<void>
  /**
   * The ingest streams: everything up to `head` is in the history, and `gapEnd` is the end
   * of the newest recorded gap. Restarts the window at `head`; signals `gap` when a gap
   * was recorded since it was last live, else `resync` when `head` is past what it published.
   * True when it signalled a gap: the caller then raises a fence before publishing.
   */
  goLive(head: string, gapEnd: bigint | undefined): boolean
  /** The ingest stopped streaming (reconnecting, waiting for the slot, stopping). */
  pause(): void
  /** The ingest recorded a gap ending at `gapEnd` while streaming; events after it follow. */
  gap(reason: string, gapEnd: bigint): void
  /**
   * Access may have changed with no event that names it (a TRUNCATE; changes lost with a
   * slot): signals `fence`, then resolves once every fence listener has asked again.
   * The ingest publishes nothing more until then (I7).
   */
  fence(): Promise<void>
}

export interface HubOptions {
  /** Most events the recent window holds. */
  windowSize: number
  /**
   * Most bytes (payload JSON and the frame around it, estimated) the window holds: a
   * burst of large events must not hold its whole size in memory. Unset: count only.
   */
  windowBytes?: number
  /** Where a listener's exception is reported (it never reaches the publisher). */
  log?: HubLog
}

/**
 * What an event costs the window, roughly: its payload's JSON text (exact when the
 * history handed it over) or an estimate walking the payload, plus the frame around it.
 * Only a bound needs it, so it never serializes anything.
 */
export function approximateBytes(event: StoredEvent): number {
  const payload = event.dataJson !== undefined ? event.dataJson.length : estimateJson(event.data, 0)
  let topics = 0
  for (let i = 0; i < event.topics.length; i++) topics += event.topics[i]!.length + 3
  return payload + topics + event.type.length + FRAME_OVERHEAD
}

// {"op":"event","id":…,"topic":…,"type":…,"data":…,"ts":…,"lsn":…}: keys, quotes, id, ts, lsn.
const FRAME_OVERHEAD = 120

function estimateJson(value: unknown, depth: number): number {
  if (typeof value === 'string') return value.length + 2
  if (value === null || typeof value !== 'object') return 8
  // Deep nesting is rare in row payloads; past a few levels count a flat cost, not a walk.
  if (depth > 8) return 64
  let total = 2
  if (Array.isArray(value)) {
    for (const item of value) total += estimateJson(item, depth + 1) + 1
    return total
  }
  for (const key in value) total += key.length + 4 + estimateJson((value as Record<string, unknown>)[key], depth + 1)
  return total
}

export function createHub(options: HubOptions): Hub {
  const listeners = new Set<HubListener>()
  const signalListeners = new Set<SignalListener>()
  const fenceListeners = new Set<FenceListener>()
  const ring: StoredEvent[] = new Array(options.windowSize)
  const sizes = new Float64Array(options.windowSize)
  const maxBytes = options.windowBytes ?? Infinity
  let start = 0
  let size = 0
  let bytes = 0
  // Greatest id no longer (or never) in the window; the window covers `after` >= floor.
  let floor: string | undefined
  let last: string | undefined
  let live = false
  let knownGapEnd: bigint | undefined
  let liveWaiters: (() => void)[] = []

  function head(): string | undefined {
    if (last === undefined || knownGapEnd === undefined) return last
    const mark = gapMark(knownGapEnd)
    return mark > last ? mark : last
  }

  function evictOldest(): void {
    floor = ring[start]!.id
    ring[start] = undefined as unknown as StoredEvent
    bytes -= sizes[start]!
    start = (start + 1) % ring.length
    size--
  }

  function push(event: StoredEvent): void {
    const eventBytes = approximateBytes(event)
    while (size > 0 && (size === ring.length || bytes + eventBytes > maxBytes)) evictOldest()
    if (eventBytes > maxBytes) {
      // Alone bigger than the window: it never enters, and what it covers is the history's.
      floor = event.id
      return
    }
    const slot = (start + size) % ring.length
    ring[slot] = event
    sizes[slot] = eventBytes
    bytes += eventBytes
    size++
  }

  function clearWindow(at: string): void {
    ring.fill(undefined as unknown as StoredEvent)
    start = 0
    size = 0
    bytes = 0
    floor = at
    last = at
  }

  /** The first position in the window whose id is greater than `after` (ids increase). */
  function firstAfter(after: string): number {
    let low = 0
    let high = size
    while (low < high) {
      const mid = (low + high) >>> 1
      if (ring[(start + mid) % ring.length]!.id > after) high = mid
      else low = mid + 1
    }
    return low
  }

  // One listener that throws must not starve the others of a batch, nor stop the
  // publisher: the batch is durable and marked published either way (I8).
  function each<T>(set: Set<(arg: T) => void>, arg: T): void {
    for (const listener of set) {
      try {
        listener(arg)
      } catch (err) {
        options.log?.error({ err }, 'hub listener failed; the others still get the batch')
      }
    }
  }

  return {
    publish(events) {
      if (events.length === 0) return
      if (!live) throw new Error('hub: publish while not live')
      // Indexed loops on the per-event path: no iterator objects, whichever tier runs them.
      for (let i = 0; i < events.length; i++) {
        const event = events[i]!
        if (last !== undefined && event.id <= last) {
          throw new Error(`hub: event ${event.id} published out of order after ${last}`)
        }
      }
      for (let i = 0; i < events.length; i++) push(events[i]!)
      last = events[events.length - 1]!.id
      each(listeners, events)
    },
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    onSignal(listener) {
      signalListeners.add(listener)
      return () => signalListeners.delete(listener)
    },
    onFence(listener) {
      fenceListeners.add(listener)
      return () => fenceListeners.delete(listener)
    },
    recentSince(topics, after, limit = Infinity) {
      if (!live || floor === undefined || after < floor) return undefined
      const out: StoredEvent[] = []
      const only = topics.length === 1 ? topics[0]! : undefined
      for (let i = firstAfter(after); i < size && out.length < limit; i++) {
        const event = ring[(start + i) % ring.length]!
        if (only !== undefined ? event.topics.includes(only) : event.topics.some((t) => topics.includes(t))) out.push(event)
      }
      return out
    },
    resumeFacts(position) {
      if (!live || floor === undefined || position < floor) return undefined
      // A gap is recorded before anything after it is published, and this hub hears of
      // each one (goLive, gap()) before it publishes past it: for a position its window
      // covers, the newest gap it knows is the newest that can matter.
      return { gapEnd: knownGapEnd }
    },
    window: () => ({ events: size, bytes }),
    lastId: () => last,
    head,
    isLive: () => live,
    whenLive() {
      if (live) return Promise.resolve()
      return new Promise((resolve) => liveWaiters.push(resolve))
    },
    goLive(at, gapEnd) {
      const previous = last
      const newGap = gapEnd !== undefined && (knownGapEnd === undefined || gapEnd > knownGapEnd)
      knownGapEnd = gapEnd
      // The window restarts at the history's head: whatever another instance wrote while
      // this one was not streaming never passed through this hub (I5).
      clearWindow(previous !== undefined && previous > at ? previous : at)
      live = true
      if (previous !== undefined) {
        if (newGap) each(signalListeners, { kind: 'gap', head: head()!, reason: 'gap_recorded' } as HubSignal)
        else if (at > previous) each(signalListeners, { kind: 'resync', from: previous, head: at } as HubSignal)
      }
      each(signalListeners, { kind: 'live', head: head()! } as HubSignal)
      const waiters = liveWaiters
      liveWaiters = []
      for (const wake of waiters) wake()
      return previous !== undefined && newGap
    },
    pause() {
      if (!live) return
      live = false
      each(signalListeners, { kind: 'paused' } as HubSignal)
    },
    gap(reason, gapEnd) {
      if (knownGapEnd === undefined || gapEnd > knownGapEnd) knownGapEnd = gapEnd
      if (last === undefined) return
      each(signalListeners, { kind: 'gap', head: head()!, reason } as HubSignal)
    },
    async fence() {
      if (last !== undefined) each(signalListeners, { kind: 'fence', head: head()! } as HubSignal)
      await Promise.all([...fenceListeners].map((listener) => listener().catch((err: unknown) => {
        options.log?.error({ err }, 'fence listener failed')
      })))
    },
  }
}
