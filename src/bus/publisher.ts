import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { Hub } from '../hub/hub.ts'
import type { Logger } from '../log.ts'
import { ENTRY_FIELD, encodeEntry, type BusEntry } from './entry.ts'

export interface BusPublisherOptions {
  readonly writer: Redis
  readonly stream: string
  readonly maxLen: number
  readonly log: Logger
  /** The ingest takes the local hub over (before it goes live) and hands it back (after it paused). */
  readonly onIngestLive: () => void
  readonly onIngestPaused: () => void
  readonly onAppended?: () => void
  readonly onAppendFailed?: () => void
}

/** Appends waiting for Redis's answer beyond this are dropped: memory stays bounded while Redis is slow. */
const MAX_IN_FLIGHT = 1000

type Unnumbered<T> = T extends unknown ? Omit<T, 'epoch' | 'n' | 'gapEnd'> : never

/**
 * The hub the ingest feeds when there are several nodes: the local hub, exactly as on a
 * single node (Redis is not on this node's latency path), plus one stream entry per
 * durable batch and per signal, in the order the ingest makes them. An append never
 * blocks or fails the ingest, nor the slot's acknowledgement: the history is the
 * authority. A lost append leaves a hole in the entry numbers that followers fill from
 * the history (I12).
 */
export function createBusPublishingHub(local: Hub, options: BusPublisherOptions): Hub {
  const { writer, log } = options
  let epoch = randomUUID()
  let n = 0
  let gapEnd: bigint | undefined
  let inFlight = 0
  let failing = false

  function append(entry: Unnumbered<BusEntry>): void {
    n++
    const full = { ...entry, epoch, n, gapEnd } as BusEntry
    if (inFlight >= MAX_IN_FLIGHT) return failed(new Error(`${inFlight} appends waiting for Redis`))
    inFlight++
    // One connection sends commands in the order they are issued: entries stay in order.
    writer.xadd(options.stream, 'MAXLEN', '~', options.maxLen, '*', ENTRY_FIELD, encodeEntry(full)).then(() => {
      inFlight--
      if (failing) log.info('bus appends succeed again')
      failing = false
      options.onAppended?.()
    }, (err: unknown) => {
      inFlight--
      failed(err as Error)
    })
  }

  function failed(err: Error): void {
    options.onAppendFailed?.()
    // Once per episode; the metric counts every one.
    if (!failing) log.warn({ err: { message: err.message } }, 'bus append failed; ingest goes on, other nodes read what they missed from the history')
    failing = true
  }

  return {
    ...local,
    publish(events) {
      if (events.length === 0) return
      const prev = local.lastId()!
      local.publish(events)
      append({ kind: 'batch', prev, events })
    },
    goLive(head, end) {
      options.onIngestLive()
      const newGap = local.goLive(head, end)
      // A new run: followers accept it only as entry 1, so nothing of an earlier run is
      // mistaken for a continuation.
      epoch = randomUUID()
      n = 0
      gapEnd = end
      append({ kind: 'live', prev: head, head })
      return newGap
    },
    pause() {
      local.pause()
      options.onIngestPaused()
    },
    gap(reason, end) {
      local.gap(reason, end)
      if (gapEnd === undefined || end > gapEnd) gapEnd = end
      append({ kind: 'gap', prev: local.lastId() ?? head0, reason })
    },
    fence() {
      append({ kind: 'fence', prev: local.lastId() ?? head0 })
      return local.fence()
    },
  }
}

const head0 = '0000000000000000-00000000'
