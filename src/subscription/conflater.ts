import { withTopics, type StoredEvent } from '../history/event.ts'
import { conflationKey } from '../catalog/conflation.ts'

/** Timers, so the unit tests can drive it with a fake clock. */
export interface ConflaterClock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export interface ConflaterOptions {
  /** Milliseconds between two flushes: a key is delivered at most once per interval. */
  readonly everyMs: number
  /** The key fields of a conflated topic; undefined for every other topic. */
  readonly keyFields: (topic: string) => readonly string[] | undefined
  /** Live delivery of a flush: events in id order, each with the conflated topics it is the latest of. */
  readonly deliver: (events: readonly StoredEvent[]) => void
  readonly clock?: ConflaterClock
}

export interface ConflaterStats {
  /** Events taken in on a conflated topic. */
  readonly taken: number
  /** Events delivered by flushes (one per key and topic at most per flush). */
  readonly flushed: number
  /** Held events a newer one of their key replaced before they were delivered. */
  readonly superseded: number
}

/**
 * Live conflation of the hot topics a catalog declares (invariant I17), one per
 * subscription core, shared by every subscriber of a topic: a conflated topic's share of
 * an event is held as the latest of its key instead of being delivered, and every
 * `everyMs` one flush delivers what is held, in id order, for every conflated topic at
 * once (so a stream of several of them, with one cursor, never passes a held event). A
 * flush is scheduled as soon as something is held: the trailing value always goes out,
 * at most `everyMs` after the last flush. Events stay durable and keep their ids: only
 * what reaches a client live is thinned.
 */
export interface Conflater {
  isConflated(topic: string): boolean
  /**
   * Holds `event`'s conflated topics and returns the event to deliver now: itself when
   * none of its topics is conflated, a copy with the other topics, or undefined when
   * every one is. `before`: the id of the event the hub published before it.
   */
  take(event: StoredEvent, before: string): StoredEvent | undefined
  /**
   * A position every held event, and every event of a flush being delivered, is after
   * (undefined while nothing is held): a
   * conflated subscription that leaves live delivery catches up from here, so a value
   * held at that moment is not skipped.
   */
  heldAfter(): string | undefined
  /** Delivers what is held now (the core calls it before a reset or on close). */
  flush(): void
  stats(): ConflaterStats
  close(): void
}

const realClock: ConflaterClock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms)
    timer.unref()
    return timer
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
}

// Topic → key fields, remembered; bounded so a client naming endless topics costs nothing lasting.
const MAX_REMEMBERED_TOPICS = 10_000

export function createConflater(options: ConflaterOptions): Conflater {
  const clock = options.clock ?? realClock
  const held = new Map<string, Map<string, StoredEvent>>()
  const fieldsOf = new Map<string, readonly string[] | null>()
  let heldCount = 0
  let floor: string | undefined
  let lastFlush = Number.NEGATIVE_INFINITY
  let timer: unknown
  let closed = false
  let taken = 0
  let flushed = 0
  let superseded = 0

  function fields(topic: string): readonly string[] | undefined {
    let known = fieldsOf.get(topic)
    if (known === undefined) {
      if (fieldsOf.size >= MAX_REMEMBERED_TOPICS) fieldsOf.clear()
      known = options.keyFields(topic) ?? null
      fieldsOf.set(topic, known)
    }
    return known ?? undefined
  }

  function schedule(): void {
    if (timer !== undefined || closed) return
    const wait = Math.max(0, lastFlush + options.everyMs - clock.now())
    timer = clock.setTimeout(() => {
      timer = undefined
      flush()
    }, wait)
  }

  function flush(): void {
    if (heldCount === 0) return
    lastFlush = clock.now()
    // An event that is the latest of its key on two conflated topics goes out once, with both.
    const topicsOf = new Map<StoredEvent, string[]>()
    for (const [topic, byKey] of held) {
      for (const event of byKey.values()) {
        const topics = topicsOf.get(event)
        if (topics === undefined) topicsOf.set(event, [topic])
        else topics.push(topic)
      }
    }
    held.clear()
    heldCount = 0
    const events = [...topicsOf].map(([event, topics]) => (topics.length === event.topics.length ? event : withTopics(event, topics)))
    events.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    flushed += events.length
    // The floor stands while the flush is delivered: a subscription paced out of live
    // delivery in the middle of it (gateway/delivery.ts) catches up from before the whole
    // flush, not from the newest id delivered so far, which may be another topic's.
    try {
      options.deliver(events)
    } finally {
      floor = undefined
    }
  }

  return {
    isConflated: (topic) => fields(topic) !== undefined,
    take(event, before) {
      let now: string[] | undefined
      let conflated = 0
      for (let i = 0; i < event.topics.length; i++) {
        const topic = event.topics[i]!
        const keyFields = fields(topic)
        if (keyFields === undefined) {
          if (conflated > 0) (now ??= []).push(topic)
          continue
        }
        if (conflated === 0) now = event.topics.slice(0, i)
        conflated++
        taken++
        if (heldCount === 0) floor = before
        let byKey = held.get(topic)
        if (byKey === undefined) held.set(topic, (byKey = new Map()))
        const key = conflationKey(keyFields, event.data)
        if (byKey.has(key)) superseded++
        else heldCount++
        byKey.set(key, event)
      }
      if (conflated === 0) return event
      schedule()
      return now === undefined || now.length === 0 ? undefined : withTopics(event, now)
    },
    heldAfter: () => floor,
    flush,
    stats: () => ({ taken, flushed, superseded }),
    close() {
      closed = true
      if (timer !== undefined) clock.clearTimeout(timer)
      timer = undefined
      held.clear()
      heldCount = 0
    },
  }
}
