import type { Catalog } from '../catalog/catalog.ts'
import { conflatedTopics } from '../catalog/conflation.ts'
import { formatEventId, gapMark, ZERO_ID, type EventId } from '../event-id.ts'
import type { StoredEvent } from '../history/event.ts'
import type { HistoryStore } from '../history/store.ts'
import type { Hub } from '../hub/hub.ts'
import { conflationKey } from '../catalog/conflation.ts'

/** What the subscription core needs to conflate a catalog's hot topics (I17). */
export interface CoreConflation {
  readonly everyMs: number
  /** The key fields of a conflated topic; undefined for every other topic. */
  keyFields(topic: string): readonly string[] | undefined
  /** The latest event per key of a conflated topic after `after` (src/history/latest-per-key.ts). */
  readLatest(topic: string, after: EventId, limit: number): Promise<StoredEvent[]>
  /**
   * Undefined when `topic`'s state may be read now; else a wait for its pattern's state to
   * be built, which may end in overload (src/history/latest-per-key-backfill.ts). Waited
   * before the read takes a turn at the read gate: a wait holds no turn.
   */
  ready?(topic: string): Promise<void> | undefined
}

/** The catalog's conflation with its interval (WALCAST_CONFLATE_INTERVAL wins); undefined without one. */
export function catalogConflation(catalog: Catalog, everyMsOverride: number | undefined, readLatest: CoreConflation['readLatest'], ready?: CoreConflation['ready']): CoreConflation | undefined {
  const topics = conflatedTopics(catalog)
  if (topics === undefined) return undefined
  return { everyMs: everyMsOverride ?? catalog.conflate!.everyMs, keyFields: topics.keyFields, readLatest, ...(ready === undefined ? {} : { ready }) }
}

/**
 * The history as a conflated subscription reads it: a conflated topic's page is the
 * latest event of each key after the cursor, every other topic's is its events. Replay,
 * the replay→live switch and polling then serve a conflated topic's state with the same
 * code, and the same resume rule, as any topic's log.
 */
export function conflatedHistory(history: HistoryStore, conflation: CoreConflation): HistoryStore {
  const readSince: HistoryStore['readSince'] = (topic, after, limit) => {
    return conflation.keyFields(topic) === undefined ? history.readSince(topic, after, limit) : conflation.readLatest(topic, after, limit)
  }
  const readSinceEach: HistoryStore['readSinceEach'] = (topics, after, limit) => {
    // A stream of conflated topics (SSE) reads each one's state; plain ones keep the one-statement read.
    if (topics.every((topic) => conflation.keyFields(topic) === undefined)) return history.readSinceEach(topics, after, limit)
    return Promise.all(topics.map((topic) => readSince(topic, after, limit)))
  }
  // Layered over the store as it is (its methods may live on a prototype: coalesced-reads.ts).
  return Object.create(history, { readSince: { value: readSince }, readSinceEach: { value: readSinceEach } }) as HistoryStore
}

/**
 * The hub's window as a conflated subscription reads it: of the window's events after
 * the cursor (all of them: the window holds every one it answers for), the latest of each
 * key, then the first `limit`. The same answer the history gives (conflatedHistory), so a
 * replay that ends on the window still serves the state, not the burst.
 */
export function conflatedHub(hub: Hub, conflation: CoreConflation): Hub {
  const recentSince: Hub['recentSince'] = (topics, after, limit) => {
    const fields = topics.map((topic) => conflation.keyFields(topic))
    if (fields.some((f) => f === undefined)) return hub.recentSince(topics, after, limit)
    const all = hub.recentSince(topics, after)
    if (all === undefined) return undefined
    const latest = new Map<string, StoredEvent>()
    for (const event of all) {
      topics.forEach((topic, i) => {
        if (event.topics.includes(topic)) latest.set(`${topic}\u0000${conflationKey(fields[i]!, event.data)}`, event)
      })
    }
    const events = [...new Set(latest.values())].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    return limit === undefined ? events : events.slice(0, limit)
  }
  return Object.create(hub, { recentSince: { value: recentSince } }) as Hub
}

/**
 * The history as a subscription of conflated topics only is judged by (I4, I17): a state
 * read after any position is complete however far the pruner went, since pruning never
 * removes the latest event of a key (walcast.latest_per_key): the horizon does not apply
 * to it. A recorded gap still does (a key's change may be lost in it).
 */
export function stateHistory(history: HistoryStore): HistoryStore {
  return Object.create(history, { horizon: { value: () => Promise.resolve(undefined) } }) as HistoryStore
}

/**
 * Where a conflated subscription with no `since` starts reading state: the newest point
 * after which nothing was lost (the end of the newest gap), so it is served every key
 * that changed since, however long ago, with no `reset`. A key unchanged since before a
 * gap is not in it: a catalog whose state predates walcast's history says so
 * (docs/catalogs.md#conflation).
 */
export async function conflatedStart(history: HistoryStore): Promise<string> {
  const gapEnd = await history.lastGapEnd()
  return gapEnd === undefined ? ZERO : gapMark(gapEnd)
}

const ZERO = formatEventId(ZERO_ID)
