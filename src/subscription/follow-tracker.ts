import type { StoredEvent } from '../history/event.ts'
import type { Subscriber } from './core.ts'
import type { FollowChange, FollowSets } from './follow-sets.ts'
import type { SubscriberIndex } from './subscriber-index.ts'

/**
 * What each subscriber's follow sets stand for now, and the topics it reads because of
 * them (docs/catalogs.md#follow-sets, invariant I15). The core calls `apply` for every
 * membership event in stream order, and `resolve` when a set must be asked of the
 * database (subscribe, fence, resync).
 */
export interface FollowTracker {
  /** Each follow set of `sub` as the database has it now, asked again if a change raced the query. */
  resolve(sub: Subscriber): Promise<void>
  /** A membership event moves the follow sets that name its user. */
  apply(change: FollowChange): void
  /** The subscriber's topics `event` is delivered under: its own, and each follow set holding one. */
  topicsFor(sub: Subscriber, event: StoredEvent): string[]
  /** `topic` (plain or a follow set) leaves `sub`; what only it needed is no longer read. */
  drop(sub: Subscriber, topic: string): void
}

export function createFollowTracker(follows: FollowSets | undefined, index: SubscriberIndex, over: (sub: Subscriber) => boolean): FollowTracker {
  // Follow sets being asked of the database, with a count of the changes that passed
  // meanwhile: an answer that raced one is asked again.
  const resolving = new Map<string, { changes: number; queries: number }>()

  /** `topic` may no longer be needed by `sub`: stop reading it unless a topic of it still holds it. */
  function unread(sub: Subscriber, topic: string): void {
    if (sub.topics.has(topic)) return
    for (const members of sub.follows.values()) if (members.has(topic)) return
    if (sub.reads.delete(topic)) index.removeTopic(sub, topic)
  }

  function read(sub: Subscriber, topic: string): void {
    if (sub.reads.has(topic)) return
    sub.reads.add(topic)
    index.addTopic(sub, topic)
  }

  async function membersNow(topic: string): Promise<string[]> {
    const race = resolving.get(topic) ?? { changes: 0, queries: 0 }
    race.queries++
    resolving.set(topic, race)
    try {
      for (;;) {
        const seen = race.changes
        const members = await follows!.members(topic)
        if (race.changes === seen) return members
      }
    } finally {
      if (--race.queries === 0) resolving.delete(topic)
    }
  }

  return {
    async resolve(sub) {
      if (follows === undefined) return
      for (const topic of [...sub.follows.keys()]) {
        const members = await membersNow(topic)
        const held = sub.follows.get(topic)
        if (held === undefined || over(sub)) continue
        const next = new Set(members)
        sub.follows.set(topic, next)
        for (const member of held) if (!next.has(member)) unread(sub, member)
        for (const member of next) read(sub, member)
      }
    },
    apply(change) {
      const race = resolving.get(change.follow)
      if (race !== undefined) race.changes++
      for (const sub of index.forUser(change.userId)) {
        const members = sub.follows.get(change.follow)
        if (members === undefined || sub.state === 'ended') continue
        if (change.kind === 'add') {
          members.add(change.member)
          read(sub, change.member)
        } else if (members.delete(change.member)) {
          unread(sub, change.member)
        }
      }
    },
    topicsFor(sub, event) {
      const own = event.topics.filter((t) => sub.topics.has(t))
      if (sub.follows.size === 0) return own
      for (const [topic, members] of sub.follows) if (event.topics.some((t) => members.has(t))) own.push(topic)
      return own
    },
    drop(sub, topic) {
      const members = sub.follows.get(topic)
      sub.follows.delete(topic)
      for (const member of members ?? [topic]) unread(sub, member)
    },
  }
}
