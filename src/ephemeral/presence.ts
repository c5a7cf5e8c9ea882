/** A user became present on a topic (on any node), or is no longer present on any. */
export interface PresenceChange {
  readonly topic: string
  readonly change: 'joined' | 'left'
  readonly userId: string
}

/** Another node's presence entry: `userId` is on `topic` there until `expiresAt` unless refreshed. */
export interface RemoteEntry {
  readonly node: string
  readonly userId: string
  readonly expiresAt: number
}

/**
 * Who is on which topic, as this node knows it: its own connections (counted, so a user
 * with two tabs is one presence) and, for the topics it has connections on, the other
 * nodes' entries, each with an expiry. A user is present while any node has them; every
 * method returns the changes of that union, which is what clients are told. Pure: no
 * clock of its own, no I/O (src/ephemeral/hub.ts drives it).
 */
export class PresenceBook {
  private readonly local = new Map<string, Map<string, number>>()
  private readonly remote = new Map<string, Map<string, Map<string, number>>>()
  /** topic → node/user key → when a message last changed it (a read issued before does not undo it). */
  private readonly touched = new Map<string, Map<string, number>>()

  /** One more local connection of `userId` is on `topic`. */
  join(topic: string, userId: string): PresenceChange[] {
    const before = this.has(topic, userId)
    const users = this.local.get(topic) ?? new Map<string, number>()
    users.set(userId, (users.get(userId) ?? 0) + 1)
    this.local.set(topic, users)
    return before ? [] : [{ topic, change: 'joined', userId }]
  }

  /** One local connection of `userId` left `topic`. The last one leaving a topic forgets the other nodes' entries too. */
  leave(topic: string, userId: string): PresenceChange[] {
    const users = this.local.get(topic)
    const count = users?.get(userId)
    if (users === undefined || count === undefined) return []
    if (count > 1) {
      users.set(userId, count - 1)
      return []
    }
    users.delete(userId)
    if (users.size === 0) {
      this.local.delete(topic)
      this.remote.delete(topic)
      this.touched.delete(topic)
      return [{ topic, change: 'left', userId }]
    }
    return this.has(topic, userId) ? [] : [{ topic, change: 'left', userId }]
  }

  /** Topics with at least one local connection: the ones whose other nodes' entries matter here. */
  topics(): string[] {
    return [...this.local.keys()]
  }

  hasTopic(topic: string): boolean {
    return this.local.has(topic)
  }

  /** The users of this node's connections, per topic (what its heartbeat refreshes). */
  localEntries(): [string, string[]][] {
    return [...this.local].map(([topic, users]) => [topic, [...users.keys()]])
  }

  isLocal(topic: string, userId: string): boolean {
    return this.local.get(topic)?.has(userId) === true
  }

  /** Everyone present on `topic`, sorted: local users and other nodes' entries not yet expired (`expire`). */
  users(topic: string): string[] {
    return [...new Set([...this.local.get(topic)?.keys() ?? [], ...this.remote.get(topic)?.keys() ?? []])].sort()
  }

  /** Another node says `userId` joined (`expiresAt`) or left (undefined) `topic`. Ignored for a topic with no local connection. */
  remoteChange(topic: string, node: string, userId: string, expiresAt: number | undefined, now: number): PresenceChange[] {
    if (!this.local.has(topic)) return []
    const before = this.has(topic, userId)
    this.setRemote(topic, node, userId, expiresAt)
    const touched = this.touched.get(topic) ?? new Map<string, number>()
    touched.set(key(node, userId), now)
    this.touched.set(topic, touched)
    const after = this.has(topic, userId)
    return before === after ? [] : [{ topic, change: after ? 'joined' : 'left', userId }]
  }

  /**
   * The other nodes' entries of `topic` as read at `issuedAt` replace what was known,
   * except entries a message changed since (the read may predate it).
   */
  replaceRemote(topic: string, entries: readonly RemoteEntry[], issuedAt: number): PresenceChange[] {
    if (!this.local.has(topic)) return []
    const touched = this.touched.get(topic) ?? new Map<string, number>()
    const kept = new Map<string, Map<string, number>>()
    for (const [userId, nodes] of this.remote.get(topic) ?? []) {
      for (const [node, at] of nodes) if ((touched.get(key(node, userId)) ?? -Infinity) >= issuedAt) put(kept, userId, node, at)
    }
    for (const entry of entries) {
      if ((touched.get(key(entry.node, entry.userId)) ?? -Infinity) >= issuedAt) continue
      put(kept, entry.userId, entry.node, entry.expiresAt)
    }
    for (const [k, at] of touched) if (at < issuedAt) touched.delete(k)
    const before = new Set(this.users(topic))
    this.remote.set(topic, kept)
    const after = new Set(this.users(topic))
    return changes(topic, before, after)
  }

  /** Drops the other nodes' entries that expired by `now` (a node that died stops refreshing them). */
  expire(now: number): PresenceChange[] {
    const out: PresenceChange[] = []
    for (const [topic, users] of this.remote) {
      for (const [userId, nodes] of users) {
        for (const [node, at] of nodes) if (at <= now) nodes.delete(node)
        if (nodes.size > 0) continue
        users.delete(userId)
        if (!this.has(topic, userId)) out.push({ topic, change: 'left', userId })
      }
    }
    return out
  }

  private setRemote(topic: string, node: string, userId: string, expiresAt: number | undefined): void {
    const users = this.remote.get(topic) ?? new Map<string, Map<string, number>>()
    this.remote.set(topic, users)
    if (expiresAt !== undefined) return put(users, userId, node, expiresAt)
    const nodes = users.get(userId)
    nodes?.delete(node)
    if (nodes?.size === 0) users.delete(userId)
  }

  private has(topic: string, userId: string): boolean {
    return this.local.get(topic)?.has(userId) === true || this.remote.get(topic)?.has(userId) === true
  }
}

const key = (node: string, userId: string): string => JSON.stringify([node, userId])

function put(users: Map<string, Map<string, number>>, userId: string, node: string, at: number): void {
  const nodes = users.get(userId) ?? new Map<string, number>()
  nodes.set(node, at)
  users.set(userId, nodes)
}

function changes(topic: string, before: Set<string>, after: Set<string>): PresenceChange[] {
  const out: PresenceChange[] = []
  for (const userId of after) if (!before.has(userId)) out.push({ topic, change: 'joined', userId })
  for (const userId of before) if (!after.has(userId)) out.push({ topic, change: 'left', userId })
  return out
}
