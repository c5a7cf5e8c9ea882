import type { Subscriber } from './core.ts'

export interface SubscriberIndex {
  add(sub: Subscriber): void
  remove(sub: Subscriber): void
  removeTopic(sub: Subscriber, topic: string): void
  /** A topic `sub` reads from now on (a follow set took it in); indexed at once if live. */
  addTopic(sub: Subscriber, topic: string): void
  /** Live subscribers that take live events one by one (SSE, follow sets) are indexed by the topics they read. */
  setLive(sub: Subscriber, live: boolean): void
  forUser(userId: string): Subscriber[]
  liveDirect(topic: string): ReadonlySet<Subscriber>
  all(): Subscriber[]
}

/** Who subscribes to what: the lookups revocation, signals and direct delivery need. */
export function createSubscriberIndex(): SubscriberIndex {
  // A user's only subscriber is kept as it is, a set only from the second: most users
  // hold one, and a set each is per-connection memory (bench §4).
  const byUser = new Map<string, Subscriber | Set<Subscriber>>()
  const direct = new Map<string, Set<Subscriber>>()
  const everyone = new Set<Subscriber>()

  const isDirect = (sub: Subscriber): boolean => sub.sink.deliver !== undefined

  function unindexLive(sub: Subscriber, topics: Iterable<string>): void {
    for (const topic of topics) removeFrom(direct, topic, sub)
  }

  return {
    add(sub) {
      everyone.add(sub)
      const userId = sub.principal.userId
      const held = byUser.get(userId)
      if (held === undefined) byUser.set(userId, sub)
      else if (held instanceof Set) held.add(sub)
      else if (held !== sub) byUser.set(userId, new Set([held, sub]))
    },
    remove(sub) {
      everyone.delete(sub)
      const userId = sub.principal.userId
      const held = byUser.get(userId)
      if (held === sub) byUser.delete(userId)
      else if (held instanceof Set) removeFrom(byUser as Map<string, Set<Subscriber>>, userId, sub)
      if (isDirect(sub)) unindexLive(sub, sub.reads)
    },
    removeTopic(sub, topic) {
      if (isDirect(sub)) removeFrom(direct, topic, sub)
    },
    addTopic(sub, topic) {
      if (isDirect(sub) && sub.state === 'live') addTo(direct, topic, sub)
    },
    setLive(sub, live) {
      if (!isDirect(sub)) return
      if (!live) return unindexLive(sub, sub.reads)
      for (const topic of sub.reads) addTo(direct, topic, sub)
    },
    // Copies: a revocation or reset may end subscribers while the caller iterates.
    forUser(userId) {
      const held = byUser.get(userId)
      return held === undefined ? [] : held instanceof Set ? [...held] : [held]
    },
    liveDirect: (topic) => direct.get(topic) ?? EMPTY,
    all: () => [...everyone],
  }
}

const EMPTY: ReadonlySet<Subscriber> = new Set()

function addTo<K>(map: Map<K, Set<Subscriber>>, key: K, sub: Subscriber): void {
  let set = map.get(key)
  if (set === undefined) map.set(key, (set = new Set()))
  set.add(sub)
}

function removeFrom<K>(map: Map<K, Set<Subscriber>>, key: K, sub: Subscriber): void {
  const set = map.get(key)
  if (set === undefined) return
  set.delete(sub)
  if (set.size === 0) map.delete(key)
}
