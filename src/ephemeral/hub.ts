import { randomUUID } from 'node:crypto'
import type { Logger } from '../log.ts'
import type { EphemeralLink, WireMessage } from './redis-link.ts'
import { PresenceBook, type PresenceChange } from './presence.ts'
import type { EphemeralCatalog } from './spec.ts'

/** An ephemeral message as this node hands it to its transports. `origin`: the local connection that sent it (not sent back to it). */
export interface EphemeralMessage {
  readonly topic: string
  readonly type: string
  readonly data: unknown
  readonly from: string
  readonly ts: string
  readonly origin?: number
}

/** A presence change clients are told of; `origin`: the local connection that caused it. */
export interface PresenceEvent extends PresenceChange {
  readonly origin?: number
}

export interface EphemeralStats {
  /** Messages accepted from this node's clients. */
  readonly published: number
  /** Messages and presence changes received from other nodes. */
  readonly received: number
  /** Redis commands that failed (nothing is retried: live only). */
  readonly linkFailures: number
}

/**
 * The node's ephemeral layer (docs/protocol.md#ephemeral-messages-and-presence): messages
 * and presence changes go to this node's transports at once and, with Redis, to every
 * other node; presence is this node's connections plus the other nodes' unexpired
 * entries. Nothing touches the hub, the history or an event id (I16).
 */
export interface EphemeralHub {
  readonly rules: EphemeralCatalog
  publish(message: EphemeralMessage): void
  /** A local connection of `userId` is live on a presence topic / left it. */
  join(topic: string, userId: string, origin: number): void
  leave(topic: string, userId: string, origin: number): void
  /** Everyone on `topic` now (after the first read of the other nodes' entries, with Redis). */
  users(topic: string): Promise<string[]>
  onMessage(listener: (message: EphemeralMessage) => void): () => void
  onPresence(listener: (event: PresenceEvent) => void): () => void
  stats(): EphemeralStats
  stop(): void
}

export interface EphemeralHubOptions {
  readonly rules: EphemeralCatalog
  /** How long another node's presence entries live without a heartbeat (WALCAST_PRESENCE_TTL). */
  readonly ttlMs: number
  readonly log: Logger
  /** Several nodes: the Redis link; undefined: this node alone (presence is complete). */
  readonly link?: EphemeralLink
  readonly now?: () => number
  /** This node's id in presence entries. */
  readonly node?: string
}

export function createEphemeralHub(options: EphemeralHubOptions): EphemeralHub {
  const { link, ttlMs } = options
  const now = options.now ?? Date.now
  const node = options.node ?? randomUUID()
  const book = new PresenceBook()
  const messageListeners = new Set<(message: EphemeralMessage) => void>()
  const presenceListeners = new Set<(event: PresenceEvent) => void>()
  const loading = new Map<string, Promise<void>>()
  let published = 0
  let received = 0
  let linkFailures = 0
  let reading = false
  let stopped = false

  const emit = (changes: readonly PresenceChange[], origin?: number): void => {
    for (const change of changes) for (const listener of presenceListeners) listener(origin === undefined ? change : { ...change, origin })
  }

  /** Reads the other nodes' entries of `topics`; changes since are announced on the channel too, and win. */
  async function refresh(topics: string[]): Promise<void> {
    if (link === undefined || topics.length === 0) return
    const issuedAt = now()
    try {
      const entries = await link.read(topics, issuedAt)
      for (const [topic, list] of entries) emit(book.replaceRemote(topic, list, issuedAt))
    } catch {
      linkFailures++
    }
  }

  function load(topic: string): void {
    const done = refresh([topic]).finally(() => { if (loading.get(topic) === done) loading.delete(topic) })
    loading.set(topic, done)
  }

  link?.onMessage((message: WireMessage) => {
    if (stopped) return
    received++
    if (message.k === 'm') {
      const { topic, type, data, from, ts } = message
      for (const listener of messageListeners) listener({ topic, type, data, from, ts })
      return
    }
    emit(book.remoteChange(message.topic, message.n, message.user, message.k === 'j' ? now() + ttlMs : undefined, now()))
  })

  // Each tick: refresh this node's entries, drop others' that expired, re-read the rest.
  const tick = (): void => {
    if (link === undefined || stopped) return
    link.put(book.localEntries(), now() + ttlMs, ttlMs)
    emit(book.expire(now()))
    if (reading) return
    reading = true
    void refresh(book.topics()).finally(() => { reading = false })
  }
  const timer = link === undefined ? undefined : setInterval(tick, Math.max(50, Math.floor(ttlMs / 3)))
  timer?.unref()

  return {
    rules: options.rules,
    publish(message) {
      published++
      for (const listener of messageListeners) listener(message)
      const { topic, type, data, from, ts } = message
      link?.send({ k: 'm', n: node, topic, type, data, from, ts })
    },
    join(topic, userId, origin) {
      const first = !book.hasTopic(topic)
      const wasLocal = book.isLocal(topic, userId)
      emit(book.join(topic, userId), origin)
      if (link === undefined || wasLocal) return
      link.put([[topic, [userId]]], now() + ttlMs, ttlMs)
      link.send({ k: 'j', n: node, topic, user: userId })
      if (first) load(topic)
    },
    leave(topic, userId, origin) {
      if (!book.isLocal(topic, userId)) return
      emit(book.leave(topic, userId), origin)
      if (link === undefined || book.isLocal(topic, userId)) return
      link.remove(topic, userId)
      link.send({ k: 'l', n: node, topic, user: userId })
    },
    async users(topic) {
      await loading.get(topic)
      return book.users(topic)
    },
    onMessage(listener) {
      messageListeners.add(listener)
      return () => messageListeners.delete(listener)
    },
    onPresence(listener) {
      presenceListeners.add(listener)
      return () => presenceListeners.delete(listener)
    },
    stats: () => ({ published, received, linkFailures: linkFailures + (link?.failures() ?? 0) }),
    stop() {
      stopped = true
      clearInterval(timer)
      link?.close()
    },
  }
}
