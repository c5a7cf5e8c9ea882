import type { HistoryStore } from '../history/store.ts'

/**
 * One read shared by every caller that asks while none has started yet: a caller never
 * joins a read already under way (it may have started before the caller asked, and miss
 * what happened in between), only the next one, which starts once that read settles. So
 * each caller gets an answer read after it asked, as if it had read alone; a resume storm
 * of hundreds of subscribes costs a few reads instead of one each.
 */
export function coalesceReads<T>(read: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined
  let queued: Promise<T> | undefined
  const start = (): Promise<T> => {
    const reading = read()
    running = reading
    const done = (): void => { if (running === reading) running = undefined }
    reading.then(done, done)
    return reading
  }
  return () => {
    if (running === undefined) return start()
    queued ??= running.then(ignore, ignore).then(() => {
      queued = undefined
      return start()
    })
    return queued
  }
}

const ignore = (): void => {}

/**
 * The history with its horizon reads coalesced (the resume rule reads it for every
 * subscribe with `since`, I4). Every other method is the store's own, looked up on each
 * call (tests watch the store by replacing its methods).
 */
export function withCoalescedHorizon(history: HistoryStore): HistoryStore {
  const horizon = coalesceReads(() => history.horizon())
  return Object.create(history, { horizon: { value: horizon } }) as HistoryStore
}
