import type { BusConfig } from '../config.ts'
import type { HistoryStore } from '../history/store.ts'
import type { Hub } from '../hub/hub.ts'
import type { Logger } from '../log.ts'
import { startBusFollower, type FollowerState } from './follower.ts'
import { createBusPublishingHub } from './publisher.ts'
import { connectBus } from './redis.ts'

export interface BusStats {
  /** Both Redis connections answer. */
  readonly up: boolean
  readonly follower: FollowerState
  readonly appended: number
  readonly appendFailures: number
  /** Times the follower read from the history instead of the stream, by reason. */
  readonly historyReads: Readonly<Record<string, number>>
}

export interface Bus {
  /** The hub this node's ingest feeds: the local hub, and every batch and signal on the stream. */
  readonly ingestHub: Hub
  stats(): BusStats
  stop(): Promise<void>
}

export interface BusDeps {
  readonly hub: Hub
  readonly history: HistoryStore
  readonly log: Logger
}

/**
 * The bus between nodes (docs/scaling.md): a Redis Stream the ingesting node appends
 * every durable batch to, and a follower on every node that feeds its hub from it
 * whenever its own ingest does not. Throws BUS_UNREACHABLE when Redis does not answer.
 */
export async function startBus(config: BusConfig & { redisUrl: string }, deps: BusDeps): Promise<Bus> {
  const connections = await connectBus(config.redisUrl, deps.log)
  let appended = 0
  let appendFailures = 0
  const historyReads: Record<string, number> = {}
  const follower = startBusFollower({
    hub: deps.hub,
    history: deps.history,
    reader: connections.reader,
    writer: connections.writer,
    connected: connections.up,
    stream: config.stream,
    pollMs: config.fallbackPollMs,
    log: deps.log.child({ part: 'follower' }),
    onHistoryRead: (reason) => { historyReads[reason] = (historyReads[reason] ?? 0) + 1 },
  })
  const ingestHub = createBusPublishingHub(deps.hub, {
    writer: connections.writer,
    stream: config.stream,
    maxLen: config.maxLen,
    log: deps.log.child({ part: 'publisher' }),
    onIngestLive: () => follower.yieldHub(),
    onIngestPaused: () => follower.takeHub(),
    onAppended: () => { appended++ },
    onAppendFailed: () => { appendFailures++ },
  })
  return {
    ingestHub,
    stats: () => ({ up: follower.busUp(), follower: follower.state(), appended, appendFailures, historyReads: { ...historyReads } }),
    async stop() {
      follower.stop()
      await connections.close()
      await follower.done
    },
  }
}
