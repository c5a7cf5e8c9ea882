/**
 * When a soak's reconnect storms and fan-out spikes happen. One storm and one spike fall
 * inside the warm-up, so the process has grown to its working size (buffers, heap, the hub
 * window) before the baseline is read; the rest are spread over the run after it, and the
 * last tenth stays quiet so the end of the run measures the steady state, not a spike.
 */
export type SoakEventKind = 'storm' | 'spike'

export interface SoakEvent {
  readonly kind: SoakEventKind
  readonly atMs: number
  /** A spike's clients stay subscribed this long (0 for a storm). */
  readonly holdMs: number
}

export interface SoakPlan {
  readonly durationMs: number
  readonly warmupMs: number
  readonly events: readonly SoakEvent[]
}

const MINUTE = 60_000
/** The warm-up: a fifth of the run, at most five minutes. */
export const WARMUP_FRACTION = 0.2
export const WARMUP_MAX_MS = 5 * MINUTE
/** The quiet tail the end-of-run figures are read in. */
export const QUIET_TAIL_FRACTION = 0.1
/** About one storm or spike every this many milliseconds after the warm-up. */
export const EVENT_EVERY_MS = 5 * MINUTE
export const SPIKE_HOLD_MAX_MS = 30_000

export function planSoak(durationMs: number): SoakPlan {
  if (!(durationMs > 0)) throw new Error(`soak duration must be positive, got ${durationMs} ms`)
  const warmupMs = Math.min(WARMUP_MAX_MS, durationMs * WARMUP_FRACTION)
  const events: SoakEvent[] = [
    { kind: 'storm', atMs: warmupMs * 0.35, holdMs: 0 },
    { kind: 'spike', atMs: warmupMs * 0.6, holdMs: Math.min(SPIKE_HOLD_MAX_MS, warmupMs * 0.2) },
  ]
  const spanMs = durationMs * (1 - QUIET_TAIL_FRACTION) - warmupMs
  const count = Math.max(2, Math.round(spanMs / EVENT_EVERY_MS))
  const slotMs = spanMs / count
  for (let i = 0; i < count; i++) {
    const kind: SoakEventKind = i % 2 === 0 ? 'storm' : 'spike'
    events.push({ kind, atMs: warmupMs + (i + 0.5) * slotMs, holdMs: kind === 'spike' ? Math.min(SPIKE_HOLD_MAX_MS, slotMs / 3) : 0 })
  }
  return { durationMs, warmupMs, events }
}
