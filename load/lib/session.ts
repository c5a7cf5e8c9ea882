import { WebSocket } from 'k6/websockets'
import type { EventFrame, StreamCheck } from './stream-check.ts'
import * as metrics from './metrics.ts'

export interface SessionOptions {
  readonly url: string
  readonly token: string
  readonly topics: readonly string[]
  readonly check: StreamCheck
  /** Resume each topic from the last id the check saw (reconnects). */
  readonly resume: boolean
  /** Called once every topic is `subscribed`. */
  readonly onReady?: () => void
  /** Called when the socket closes, whoever closed it. */
  readonly onClosed?: (expected: boolean) => void
}

export interface Session {
  /** Closes the socket; the close is expected (not a session error). */
  close(): void
}

interface ServerFrame {
  op: string
  topic?: string
  head?: string
  code?: string
  message?: string
}

/**
 * One WebSocket connection speaking walcast's protocol (docs/protocol.md): subscribe to
 * each topic (with `since` when resuming), then check every event for gaps, duplicates
 * and latency. Anything unexpected — an error frame, a reset, an unasked close — counts
 * as a session error, which every script's thresholds hold at zero.
 */
export function openSession(options: SessionOptions): Session {
  const url = `${options.url}?token=${encodeURIComponent(options.token)}`
  const ws = new WebSocket(url)
  let closing = false
  let pending = options.topics.length
  const started = Date.now()

  ws.onopen = () => {
    options.topics.forEach((topic, i) => {
      const frame: Record<string, unknown> = { op: 'subscribe', topic, ref: `s${i}` }
      const since = options.resume ? options.check.lastIds.get(topic) : undefined
      if (since !== undefined) frame.since = since
      else options.check.restart(topic)
      ws.send(JSON.stringify(frame))
    })
  }
  ws.onmessage = (event) => {
    if (event === undefined || typeof event.data !== 'string') return
    const now = Date.now()
    const frame = JSON.parse(event.data) as ServerFrame
    switch (frame.op) {
      case 'event': {
        const seen = options.check.observe(frame as unknown as EventFrame, now)
        metrics.events.add(1)
        if (seen.missing > 0) metrics.gaps.add(seen.missing)
        if (seen.duplicate) metrics.duplicates.add(1)
        if (seen.latencyMs !== undefined) metrics.deliveryMs.add(seen.latencyMs)
        break
      }
      case 'subscribed':
        if (frame.topic !== undefined && frame.head !== undefined) options.check.live(frame.topic, frame.head)
        pending--
        if (pending === 0) {
          metrics.subscribeMs.add(now - started)
          options.onReady?.()
        }
        break
      case 'reset':
        metrics.resets.add(1)
        if (frame.topic !== undefined) options.check.restart(frame.topic, frame.head)
        break
      case 'pong':
        break
      default:
        console.warn(`unexpected frame ${event.data.slice(0, 200)}`)
        metrics.sessionErrors.add(1)
    }
  }
  ws.onerror = (event) => {
    if (closing) return
    console.warn(`websocket error: ${event?.error ?? 'unknown'}`)
    metrics.sessionErrors.add(1)
  }
  ws.onclose = () => {
    if (!closing) metrics.sessionErrors.add(1)
    options.onClosed?.(closing)
  }
  return {
    close() {
      closing = true
      ws.close()
    },
  }
}
