import type { StoredEvent } from '../history/event.ts'

export type HubListener = (events: readonly StoredEvent[]) => void

/**
 * In-process fan-out of durable events, in id order, plus a window of the most recent
 * ones so a subscriber can switch from replay to live without a gap on one tick of the
 * event loop. A multi-node bus plugs in behind the same interface (see `HubBackend`).
 */
export interface Hub {
  /** Only durable events, strictly increasing ids. */
  publish(events: readonly StoredEvent[]): void
  subscribe(listener: HubListener): () => void
  /**
   * Events of `topic` with an id greater than `after`, if the window provably holds all
   * of them; undefined when some may have left the window (read the history instead).
   */
  recentSince(topic: string, after: string): StoredEvent[] | undefined
  /** The newest published id, or the starting floor. */
  lastId(): string | undefined
  /** Declares that every event up to `id` is in the history already (start-up). */
  setFloor(id: string): void
}

export interface HubOptions {
  windowSize: number
}

export function createHub(options: HubOptions): Hub {
  const listeners = new Set<HubListener>()
  const ring: StoredEvent[] = new Array(options.windowSize)
  let start = 0
  let size = 0
  // Greatest id no longer (or never) in the window; the window covers `after` >= floor.
  // Until the ingest sets it at start-up, the window proves nothing.
  let floor: string | undefined
  let last: string | undefined

  function push(event: StoredEvent): void {
    if (size === ring.length) {
      floor = ring[start]!.id
      ring[start] = event
      start = (start + 1) % ring.length
    } else {
      ring[(start + size) % ring.length] = event
      size++
    }
  }

  return {
    publish(events) {
      if (events.length === 0) return
      for (const event of events) {
        if (last !== undefined && event.id <= last) {
          throw new Error(`hub: event ${event.id} published out of order after ${last}`)
        }
        last = event.id
        push(event)
      }
      for (const listener of listeners) listener(events)
    },
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    recentSince(topic, after) {
      if (floor === undefined || after < floor) return undefined
      const out: StoredEvent[] = []
      for (let i = 0; i < size; i++) {
        const event = ring[(start + i) % ring.length]!
        if (event.id > after && event.topics.includes(topic)) out.push(event)
      }
      return out
    },
    lastId: () => last ?? floor,
    setFloor(id) {
      if (size > 0) throw new Error('hub: setFloor after events were published')
      floor = id
      last = id
    },
  }
}
