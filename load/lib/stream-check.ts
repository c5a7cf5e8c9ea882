/**
 * Pure bookkeeping shared by the k6 scripts and the Node benchmark driver (no k6 or Node
 * imports). The writer (bench/lib/writer.ts) puts a per-escrow counter in each released
 * milestone's `amount` and stamps `releasedAt` with clock_timestamp(): a client can then
 * tell gaps and duplicates from the payload alone, and measure commit-to-client latency.
 */
export interface EventFrame {
  op: 'event'
  id: string
  topic: string
  type: string
  data: Record<string, unknown>
  ts: string
}

export interface Observation {
  /** Events missing between the previous counter and this one. */
  readonly missing: number
  readonly duplicate: boolean
  /** Milliseconds from the row's clock_timestamp() to now, or undefined for other events. */
  readonly latencyMs: number | undefined
}

const TIMESTAMP = /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d(?::?\d\d)?)?$/

// Events of one transaction carry the same timestamps: parse each text once, not per event
// (a replay at 100,000 events/s spent more in this regex than in the rest of its checks).
let lastText: string | undefined
let lastMs: number | undefined

/** ISO-8601 or Postgres text timestamps to epoch milliseconds, keeping microseconds. */
export function timestampMs(text: string): number | undefined {
  if (text === lastText) return lastMs
  lastMs = parseTimestampMs(text)
  lastText = text
  return lastMs
}

function parseTimestampMs(text: string): number | undefined {
  const m = TIMESTAMP.exec(text)
  if (m === null) return undefined
  const base = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]))
  const fraction = m[7] === undefined ? 0 : Number(`0.${m[7]}`) * 1000
  let offsetMinutes = 0
  const zone = m[8]
  if (zone !== undefined && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1
    const digits = zone.slice(1).replace(':', '')
    offsetMinutes = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0'))
  }
  return base + fraction - offsetMinutes * 60_000
}

/**
 * Per-topic continuity of the writer's counters. Survives reconnects: a resumed stream
 * must continue exactly where the previous connection stopped.
 */
export class StreamCheck {
  /** Last counter seen per topic. */
  readonly counters = new Map<string, number>()
  /** Last event id seen per topic (the `since` of a resume). */
  readonly lastIds = new Map<string, string>()
  /** Distinct writer events accepted per topic (for loss against the writer's count). */
  readonly accepted = new Map<string, number>()
  received = 0
  missing = 0
  duplicates = 0

  observe(frame: EventFrame, nowMs: number): Observation {
    this.received++
    const previousId = this.lastIds.get(frame.topic)
    if (previousId !== undefined && frame.id <= previousId) {
      this.duplicates++
      return { missing: 0, duplicate: true, latencyMs: undefined }
    }
    this.lastIds.set(frame.topic, frame.id)
    if (frame.type !== 'escrow:milestone_released') return { missing: 0, duplicate: false, latencyMs: undefined }
    const counter = Number.parseInt(String(frame.data.amount), 10)
    const stamp = typeof frame.data.releasedAt === 'string' ? timestampMs(frame.data.releasedAt) : undefined
    const latencyMs = stamp === undefined ? undefined : nowMs - stamp
    const last = this.counters.get(frame.topic)
    let missing = 0
    let duplicate = false
    if (last !== undefined) {
      if (counter <= last) duplicate = true
      else missing = counter - last - 1
    }
    if (!duplicate) {
      this.counters.set(frame.topic, counter)
      this.accepted.set(frame.topic, (this.accepted.get(frame.topic) ?? 0) + 1)
    }
    this.missing += missing
    if (duplicate) this.duplicates++
    return { missing, duplicate, latencyMs }
  }

  /**
   * Forget a topic's baseline (a live-only subscription starts wherever it starts). With
   * the `head` of a `reset`, the stream restarts there: a resume continues from it.
   */
  restart(topic: string, head?: string): void {
    this.counters.delete(topic)
    this.lastIds.delete(topic)
    if (head !== undefined) this.lastIds.set(topic, head)
  }

  /**
   * `subscribed` at `head`: every event up to it has arrived (replayed before this frame,
   * or none was asked for), so a resume continues from there. Without it a client dropped
   * before its first event of a topic subscribed again without `since` and silently lost
   * everything committed in between (bench §6b: lost without missing after a mass drop).
   */
  live(topic: string, head: string): void {
    const last = this.lastIds.get(topic)
    if (last === undefined || head > last) this.lastIds.set(topic, head)
  }
}
