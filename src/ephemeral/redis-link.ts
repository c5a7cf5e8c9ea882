import { Redis } from 'ioredis'
import type { Logger } from '../log.ts'
import { redactUrl } from '../log.ts'
import { StartupError } from '../errors.ts'
import type { RemoteEntry } from './presence.ts'

/** What nodes tell each other on the ephemeral channel (JSON). `n`: the sending node. */
export type WireMessage =
  | { readonly k: 'm'; readonly n: string; readonly topic: string; readonly type: string; readonly data: unknown; readonly from: string; readonly ts: string }
  | { readonly k: 'j' | 'l'; readonly n: string; readonly topic: string; readonly user: string }

/**
 * The ephemeral layer's Redis: pub/sub on one channel (`<bus stream>:ephemeral`, never the
 * durable stream) for messages and presence changes, and one sorted set per topic
 * (`<bus stream>:presence:<topic>`) whose members are node/user pairs scored by their
 * expiry, refreshed by each node's heartbeat. Nothing here is durable or waited for:
 * a command that fails is counted and forgotten (I16).
 */
export interface EphemeralLink {
  send(message: WireMessage): void
  onMessage(listener: (message: WireMessage) => void): void
  /** Sets (refreshes) this node's entries, each expiring at `expiresAt`, and pushes each key's own expiry out. */
  put(entries: readonly [topic: string, users: readonly string[]][], expiresAt: number, ttlMs: number): void
  remove(topic: string, userId: string): void
  /** Every other node's unexpired entries of each topic; rejects when Redis does not answer. */
  read(topics: readonly string[], now: number): Promise<Map<string, RemoteEntry[]>>
  up(): boolean
  /** Commands that failed (Redis down or slow): counted, never retried. */
  failures(): number
  close(): void
}

export interface LinkOptions {
  readonly url: string
  readonly prefix: string
  readonly node: string
  readonly log: Logger
}

const CONNECT_TIMEOUT_MS = 5000
const COMMAND_TIMEOUT_MS = 2000

export async function connectEphemeralLink(options: LinkOptions): Promise<EphemeralLink> {
  const { log, node } = options
  let started = false
  let reported = false
  const open = (name: string): Redis => {
    const client = new Redis(options.url, {
      lazyConnect: true, connectionName: `walcast-ephemeral-${name}`, connectTimeout: CONNECT_TIMEOUT_MS, commandTimeout: COMMAND_TIMEOUT_MS,
      enableOfflineQueue: false, maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false,
      retryStrategy: (times) => started ? Math.min(100 * times, 2000) : null,
    })
    client.on('error', (err: Error) => {
      if (started && !reported) log.warn({ err: { message: err.message }, connection: name }, 'ephemeral Redis connection failed; messages stay on this node until it answers')
      reported = started
    })
    client.on('ready', () => { reported = false })
    return client
  }
  const commands = open('commands')
  // A subscribed connection takes no other commands; ioredis re-subscribes it after a reconnect.
  const subscriber = open('subscriber')
  const channel = `${options.prefix}:ephemeral`
  const keyOf = (topic: string): string => `${options.prefix}:presence:${topic}`
  const listeners: ((message: WireMessage) => void)[] = []
  try {
    await Promise.all([commands.connect(), subscriber.connect()])
    await subscriber.subscribe(channel)
  } catch (err) {
    commands.disconnect()
    subscriber.disconnect()
    throw new StartupError('BUS_UNREACHABLE', `Redis at ${redactUrl(options.url)} (WALCAST_REDIS_URL) did not answer the ephemeral channel: ${(err as Error).message}`, {
      hint: 'start Redis or fix WALCAST_REDIS_URL (docs/scaling.md)', cause: err,
    })
  }
  started = true
  subscriber.on('message', (from: string, text: string) => {
    if (from !== channel) return
    let message: WireMessage
    try {
      message = JSON.parse(text) as WireMessage
    } catch {
      return
    }
    if (message === null || typeof message !== 'object' || message.n === node || typeof message.topic !== 'string') return
    for (const listener of listeners) listener(message)
  })
  let failures = 0
  const failed = (): void => { failures++ }
  const member = (userId: string): string => JSON.stringify([node, userId])

  return {
    send(message) {
      commands.publish(channel, JSON.stringify(message)).catch(failed)
    },
    onMessage(listener) {
      listeners.push(listener)
    },
    put(entries, expiresAt, ttlMs) {
      if (entries.length === 0) return
      const batch = commands.multi()
      for (const [topic, users] of entries) {
        batch.zadd(keyOf(topic), ...users.flatMap((userId) => [expiresAt, member(userId)]))
        // The key outlives its newest entry by one TTL at most: a topic everyone left goes away.
        batch.pexpire(keyOf(topic), ttlMs * 2)
      }
      batch.exec().catch(failed)
    },
    remove(topic, userId) {
      commands.zrem(keyOf(topic), member(userId)).catch(failed)
    },
    async read(topics, now) {
      const out = new Map<string, RemoteEntry[]>()
      if (topics.length === 0) return out
      const batch = commands.pipeline()
      for (const topic of topics) batch.zrangebyscore(keyOf(topic), `(${now}`, '+inf', 'WITHSCORES')
      const results = await batch.exec()
      for (const [i, topic] of topics.entries()) {
        const [err, reply] = results?.[i] ?? [new Error('no reply')]
        if (err) throw err
        out.set(topic, entriesOf(reply as string[], node))
      }
      return out
    },
    up: () => commands.status === 'ready' && subscriber.status === 'ready',
    failures: () => failures,
    close() {
      started = false
      commands.disconnect()
      subscriber.disconnect()
    },
  }
}

/** ZRANGEBYSCORE … WITHSCORES → the entries of other nodes (this node knows its own). */
function entriesOf(reply: readonly string[], self: string): RemoteEntry[] {
  const out: RemoteEntry[] = []
  for (let i = 0; i + 1 < reply.length; i += 2) {
    let pair: unknown
    try { pair = JSON.parse(reply[i]!) } catch { continue }
    if (!Array.isArray(pair) || typeof pair[0] !== 'string' || typeof pair[1] !== 'string' || pair[0] === self) continue
    out.push({ node: pair[0], userId: pair[1], expiresAt: Number(reply[i + 1]) })
  }
  return out
}
