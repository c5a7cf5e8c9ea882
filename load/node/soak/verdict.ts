/**
 * The soak's verdict from its samples and its clients' figures: resident memory after the
 * warm-up must grow by less than RSS_TARGET_PERCENT, and no client may see a gap, a
 * duplicate, a reset or an event it never got. Pure, so it is unit-tested apart from a run.
 */
import type { SoakSample } from './sampler.ts'

export const RSS_TARGET_PERCENT = 5
/** Each end of the comparison is the median over this fraction of the samples after the warm-up (at least MIN_WINDOW_SAMPLES). */
export const WINDOW_FRACTION = 0.1
export const MIN_WINDOW_SAMPLES = 3

export interface Growth {
  /** Median over the first window after the warm-up. */
  readonly baseline: number
  /** Median over the last window of the run. */
  readonly end: number
  readonly peak: number
  readonly growthPercent: number
  /** Least-squares slope over every sample after the warm-up, per hour. */
  readonly slopePerHour: number
}

export interface ClientFigures {
  /** Holes inside a client's stream (its counters skipped). */
  readonly gaps: number
  readonly duplicates: number
  /** Events the writer committed that a steady client never accepted by the end. */
  readonly lost: number
  readonly resets: number
  readonly received: number
}

export interface SoakVerdict extends ClientFigures {
  readonly rss: Growth | undefined
  readonly heapUsed: Growth | undefined
  readonly rssTargetPercent: number
  readonly rssWithinTarget: boolean
  /** Every client got every event once and in order. */
  readonly correct: boolean
  readonly pass: boolean
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Slope of y over x by least squares (0 with fewer than two distinct x). */
export function slope(points: ReadonlyArray<readonly [number, number]>): number {
  const n = points.length
  if (n < 2) return 0
  const mx = points.reduce((s, [x]) => s + x, 0) / n
  const my = points.reduce((s, [, y]) => s + y, 0) / n
  let num = 0
  let den = 0
  for (const [x, y] of points) {
    num += (x - mx) * (y - my)
    den += (x - mx) ** 2
  }
  return den === 0 ? 0 : num / den
}

/**
 * Growth of one series after the warm-up: the median of the last window against the
 * median of the first (medians, so one reading taken mid-collection does not decide it).
 * Undefined when too few readings follow the warm-up.
 */
export function growthAfterWarmup(samples: readonly SoakSample[], pick: (s: SoakSample) => number | null, warmupMs: number): Growth | undefined {
  const points = samples.filter((s) => s.tMs >= warmupMs).map((s) => [s.tMs, pick(s)] as const).filter((p): p is readonly [number, number] => p[1] !== null)
  if (points.length < 2 * MIN_WINDOW_SAMPLES) return undefined
  const window = Math.max(MIN_WINDOW_SAMPLES, Math.round(points.length * WINDOW_FRACTION))
  const baseline = median(points.slice(0, window).map(([, y]) => y))
  const end = median(points.slice(-window).map(([, y]) => y))
  return {
    baseline,
    end,
    peak: Math.max(...points.map(([, y]) => y)),
    growthPercent: baseline > 0 ? ((end - baseline) / baseline) * 100 : 0,
    slopePerHour: slope(points) * 3_600_000,
  }
}

export function soakVerdict(samples: readonly SoakSample[], warmupMs: number, clients: ClientFigures): SoakVerdict {
  const rss = growthAfterWarmup(samples, (s) => s.rssBytes, warmupMs)
  const heapUsed = growthAfterWarmup(samples, (s) => s.heapUsedBytes, warmupMs)
  const rssWithinTarget = rss !== undefined && rss.growthPercent < RSS_TARGET_PERCENT
  const correct = clients.gaps === 0 && clients.duplicates === 0 && clients.lost === 0 && clients.resets === 0 && clients.received > 0
  return { ...clients, rss, heapUsed, rssTargetPercent: RSS_TARGET_PERCENT, rssWithinTarget, correct, pass: correct && rssWithinTarget }
}

/** 0 when the soak passed; 1 when a client missed or repeated an event; 3 when only the memory target was missed. */
export function exitCodeOf(verdict: SoakVerdict): number {
  if (!verdict.correct) return 1
  return verdict.rssWithinTarget ? 0 : 3
}
