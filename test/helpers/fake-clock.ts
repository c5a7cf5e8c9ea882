import type { Clock } from '../../src/client/types.ts'

export interface FakeClock extends Clock {
  /** Moves time forward, running every timer that falls due, in order. */
  advance(ms: number): void
  /** Delays of timers still pending, in the order they fall due. */
  pending(): number[]
}

/**
 * A clock for the SDK whose time moves only when told. Zero-delay timers run on the next
 * real turn of the event loop ("as soon as possible" keeps its meaning).
 */
export function fakeClock(): FakeClock {
  let now = 0
  let nextId = 1
  const timers = new Map<number, { at: number; fn: () => void }>()
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = nextId++
      if (ms <= 0) {
        timers.set(id, { at: -1, fn })
        setImmediate(() => {
          if (timers.delete(id)) fn()
        })
      } else timers.set(id, { at: now + ms, fn })
      return id
    },
    clearTimeout(handle) {
      timers.delete(handle as number)
    },
    advance(ms) {
      const until = now + ms
      for (;;) {
        let due: [number, { at: number; fn: () => void }] | undefined
        for (const entry of timers) if (entry[1].at >= 0 && entry[1].at <= until && (due === undefined || entry[1].at < due[1].at)) due = entry
        if (due === undefined) break
        timers.delete(due[0])
        now = due[1].at
        due[1].fn()
      }
      now = until
    },
    pending: () => [...timers.values()].filter((t) => t.at >= 0).map((t) => t.at - now).sort((a, b) => a - b),
  }
}
