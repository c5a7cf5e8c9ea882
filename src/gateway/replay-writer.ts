import { serializedEventFrame, type StoredEvent } from '../history/event.ts'
import { pageFrame } from '../history/page-frame.ts'
import { batchedBytes, batchHead, EVENT_BATCH_MAX_BYTES, takeBatch, type EventBatch, type FrameText } from '../protocol/event-batch.ts'
import type { Connection } from './connection.ts'
import type { GatewayCore } from './core.ts'

/**
 * Replayed events of `topic` on one socket (the SubscriberSink's `send` and `fits`): one
 * message per event, or, for a client that subscribed with `batch`, batch frames of up
 * to EVENT_BATCH_MAX_BYTES joined from the frames each event was serialized to once (a
 * resume storm writes the same window events to every socket of a topic). A batch is
 * bounded by a sixteenth of the send-buffer limit as well, so a write past the drain
 * level overshoots it by no more than a batch and stays well below the limit (I9). Pacing
 * is unchanged: the buffer is checked after every message, and a replay step waits for
 * the client to drain before the next. A class, not closures: every subscribed socket
 * holds one, idle or not.
 */
export class ReplayWriter {
  private head: FrameText | undefined

  constructor(private readonly core: GatewayCore, private readonly conn: Connection, private readonly topic: string, private readonly batch: boolean) {}

  /** Writes events in order until the buffer passes `stopAbove` bytes; returns how many it wrote. */
  send(events: readonly StoredEvent[], stopAbove: number): number {
    const { conn } = this
    if (conn.ws === undefined || conn.closed || events.length === 0) return 0
    const sent = this.batch ? this.sendBatched(events, stopAbove) : this.sendEach(events, stopAbove)
    this.core.stats.replayEvents += sent
    return sent
  }

  /** Whether all of `events`, written as `send` writes them, fit below the slow-consumer limit. */
  fits(events: readonly StoredEvent[]): boolean {
    const ws = this.conn.ws
    if (ws === undefined || this.conn.closed) return false
    let bytes = ws.getBufferedAmount()
    if (this.batch && events.length > 0) {
      this.head ??= batchHead(this.topic)
      bytes += batchedBytes(this.framesOf(events), this.head, this.maxBytes())
    } else {
      for (const event of events) bytes += this.frameOf(event).bytes
    }
    return bytes <= this.core.config.maxBackpressure
  }

  private maxBytes(): number {
    return Math.min(EVENT_BATCH_MAX_BYTES, Math.max(1, Math.floor(this.core.config.maxBackpressure / 16)))
  }

  // A history page's events come with their frames (page-frame.ts); the hub window's are
  // serialized once, for every socket that replays them.
  private frameOf(event: StoredEvent): FrameText {
    return pageFrame(event, this.topic) ?? serializedEventFrame(event, this.topic)
  }

  private framesOf(events: readonly StoredEvent[]): FrameText[] {
    return events.map((event) => this.frameOf(event))
  }

  private sendEach(events: readonly StoredEvent[], stopAbove: number): number {
    const { core, conn } = this
    const ws = conn.ws!
    let sent = 0
    ws.cork(() => {
      for (const event of events) {
        if (!core.write(conn, this.frameOf(event).json)) return
        sent++
        if (ws.getBufferedAmount() > stopAbove) return
      }
    })
    return sent
  }

  private sendBatched(events: readonly StoredEvent[], stopAbove: number): number {
    const { core, conn, topic } = this
    const ws = conn.ws!
    const maxBytes = this.maxBytes()
    let frames: FrameText[] | undefined
    const head = (this.head ??= batchHead(topic))
    // History pages are read for this socket alone: nothing to share, nothing to cache.
    const shared = pageFrame(events[0]!, topic) === undefined
    let sent = 0
    ws.cork(() => {
      while (sent < events.length) {
        let message: { data: string | Buffer; count: number } | undefined = shared ? recentBatches.find(events, sent, topic, maxBytes) : undefined
        if (message === undefined) {
          frames ??= this.framesOf(events)
          const batch = takeBatch(frames, sent, head, maxBytes)
          message = batch.count === 1 || !shared ? { data: batch.text, count: batch.count } : recentBatches.keep(events, sent, batch, topic, maxBytes)
        }
        if (!core.write(conn, message.data)) return
        sent += message.count
        if (ws.getBufferedAmount() > stopAbove) return
      }
    })
    return sent
  }
}

interface CachedBatch {
  readonly topic: string
  readonly maxBytes: number
  /** The events it carries, and the one after them (undefined: the replay step ended there). */
  readonly members: readonly StoredEvent[]
  readonly next: StoredEvent | undefined
  /** Its UTF-8 bytes: uWS copies them out as they are, with no conversion per socket. */
  readonly data: Buffer
  readonly count: number
}

/**
 * The last batch frames built, by their first event: a resume storm replays the same
 * window events from the same position to every client of a topic, so each batch is
 * built and encoded once, not once per socket. A hit needs the very same event objects
 * (the window's, never re-read) in the same order followed by the same next one, the same
 * topic and bound: the frame is then byte for byte what takeBatch would build. Bounded by
 * count, so at most BATCH_CACHE × EVENT_BATCH_MAX_BYTES of memory.
 */
const recentBatches = (() => {
  const BATCH_CACHE = 64
  const byFirst = new Map<StoredEvent, CachedBatch>()
  return {
    find(events: readonly StoredEvent[], start: number, topic: string, maxBytes: number): { data: Buffer; count: number } | undefined {
      const cached = byFirst.get(events[start]!)
      if (cached === undefined || cached.topic !== topic || cached.maxBytes !== maxBytes || start + cached.count > events.length) return undefined
      for (let i = 1; i < cached.count; i++) if (events[start + i] !== cached.members[i]) return undefined
      if (events[start + cached.count] !== cached.next) return undefined
      return cached
    },
    keep(events: readonly StoredEvent[], start: number, batch: EventBatch, topic: string, maxBytes: number): { data: Buffer; count: number } {
      const entry: CachedBatch = {
        topic, maxBytes, count: batch.count, data: Buffer.from(batch.text),
        members: events.slice(start, start + batch.count), next: events[start + batch.count],
      }
      byFirst.delete(events[start]!)
      byFirst.set(events[start]!, entry)
      if (byFirst.size > BATCH_CACHE) byFirst.delete(byFirst.keys().next().value!)
      return entry
    },
  }
})()
