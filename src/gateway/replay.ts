import { compareEventIds, formatEventId, parseEventId, ZERO_ID } from '../event-id.ts'
import { eventFrameJson, type StoredEvent } from '../history/event.ts'
import type { Connection, Subscription } from './connection.ts'
import type { GatewayCore } from './core.ts'
import { resetFrame } from './protocol.ts'

/**
 * Sends every event of the topic after `since`, then attaches live with no gap and no
 * duplicate. Old positions are paged from the history, one page at a time and only when
 * the socket has drained, so a resume from far back never sits in memory. Live events
 * are not queued meanwhile: the next page re-reads them, from the history or from the
 * hub's window, and the final step (window slice, sends, attach) runs on one tick of
 * the event loop, where the hub cannot publish in between.
 */
export async function replayThenAttach(core: GatewayCore, conn: Connection, sub: Subscription, since: string): Promise<void> {
  const { hub, history, config, stats } = core
  const gone = (): boolean => sub.cancelled || conn.closed
  stats.replayRequests++

  const sinceId = parseEventId(since)
  const [horizon, gapEnd] = await Promise.all([history.horizon(), history.lastGapEnd()])
  if (gone()) return
  // A position we never issued (ahead of everything published) cannot be resumed either.
  const newest = hub.lastId() ?? formatEventId(ZERO_ID)
  if ((horizon !== undefined && compareEventIds(sinceId, horizon) < 0) || (gapEnd !== undefined && sinceId.lsn < gapEnd) || since > newest) {
    return reset(core, conn, sub)
  }

  let cursor = since
  for (;;) {
    await core.drained(conn)
    if (gone()) return
    const recent = hub.recentSince(sub.topic, cursor)
    if (recent !== undefined) {
      const batch = recent.slice(0, config.replayPage)
      const frames = batch.map((event) => eventFrameJson(event, sub.topic))
      const ws = conn.ws!
      if (recent.length === batch.length && ws.getBufferedAmount() + byteLength(frames) <= config.maxBackpressure) {
        ws.cork(() => {
          if (sendFrames(core, conn, frames, Infinity) === frames.length) core.attach(conn, sub)
        })
        return
      }
      // Too much left for one step: send what the buffer takes, wait for it to drain.
      cursor = advance(cursor, batch, sendFrames(core, conn, frames, drainLevel(core)))
      continue
    }
    // Everything up to `before` is durable, so a page that stops short of it has seen
    // every event of the topic up to there.
    const before = hub.lastId() ?? formatEventId(ZERO_ID)
    const page = await history.readSince(sub.topic, parseEventId(cursor), config.replayPage)
    const prunedTo = await history.horizon()
    if (gone()) return
    if (prunedTo !== undefined && compareEventIds(prunedTo, parseEventId(cursor)) > 0) {
      // The pruner overtook this replay: the page may have holes.
      return reset(core, conn, sub)
    }
    // Events durable but not yet published will also arrive live: leave them for later.
    const published = hub.lastId() ?? before
    const sendable = page.filter((event) => event.id <= published)
    const sent = sendFrames(core, conn, sendable.map((event) => eventFrameJson(event, sub.topic)), drainLevel(core))
    if (gone()) return
    cursor = advance(cursor, sendable, sent)
    const sawEverythingBefore = sent === sendable.length && (page.length < config.replayPage || sendable.length < page.length)
    if (sawEverythingBefore && cursor < before) cursor = before
  }
}

function reset(core: GatewayCore, conn: Connection, sub: Subscription): void {
  core.stats.resets++
  // After `reset` the client refetches its state; it stays subscribed from here on.
  if (core.write(conn, resetFrame(sub.topic))) core.attach(conn, sub)
}

/** Sends frames until the buffer passes `stopAbove`; returns how many were sent. */
function sendFrames(core: GatewayCore, conn: Connection, frames: readonly string[], stopAbove: number): number {
  let sent = 0
  const ws = conn.ws
  if (ws === undefined || conn.closed) return 0
  ws.cork(() => {
    for (const frame of frames) {
      if (!core.write(conn, frame)) return
      sent++
      if (ws.getBufferedAmount() > stopAbove) return
    }
  })
  core.stats.replayEvents += sent
  return sent
}

const byteLength = (frames: readonly string[]): number => frames.reduce((sum, frame) => sum + Buffer.byteLength(frame), 0)

function advance(cursor: string, events: readonly StoredEvent[], sent: number): string {
  return sent > 0 ? events[sent - 1]!.id : cursor
}

const drainLevel = (core: GatewayCore): number => Math.floor(core.config.maxBackpressure / 4)
