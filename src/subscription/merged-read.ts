import { parseEventId } from '../event-id.ts'
import type { StoredEvent } from '../history/event.ts'
import type { HistoryStore } from '../history/store.ts'

export interface MergedPage {
  /** Events in id order, each once, with the subscribed topics it belongs to. */
  readonly events: readonly StoredEvent[]
  /** True when nothing after the last event was left unread. */
  readonly complete: boolean
}

/**
 * One page of several topics' histories merged in id order. Each topic is read up to
 * `limit`; only events up to the smallest last id of the full pages are kept, so the
 * merge never skips an event another topic's next page would have brought.
 */
export async function readMerged(history: HistoryStore, topics: readonly string[], after: string, limit: number): Promise<MergedPage> {
  const afterId = parseEventId(after)
  // One topic's page is in id order, each event once, already.
  if (topics.length === 1) {
    const events = await history.readSince(topics[0]!, afterId, limit)
    return { events, complete: events.length < limit }
  }
  const pages = await history.readSinceEach(topics, afterId, limit)
  let bound: string | undefined
  for (const page of pages) {
    if (page.length < limit) continue
    const last = page[page.length - 1]!.id
    if (bound === undefined || last < bound) bound = last
  }
  const byId = new Map<string, StoredEvent>()
  for (const page of pages) for (const event of page) if (bound === undefined || event.id <= bound) byId.set(event.id, event)
  const events = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  return { events, complete: bound === undefined }
}
