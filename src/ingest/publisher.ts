import type { Hub } from '../hub/hub.ts'
import type { StoredEvent } from '../history/event.ts'

/**
 * Publishes each durable event once. After a reconnect or restart the server re-sends
 * transactions that were durable but not yet acknowledged; their ids are at or below
 * what was already published (or already in the history at start-up) and are skipped.
 */
export function createPublisher(hub: Hub): (events: StoredEvent[]) => void {
  return (events) => {
    const last = hub.lastId()
    if (last === undefined || events.length === 0 || events[0]!.id > last) {
      hub.publish(events)
      return
    }
    const fresh = events.filter((event) => event.id > last)
    if (fresh.length > 0) hub.publish(fresh)
  }
}
