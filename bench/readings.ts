/**
 * How the report prints a figure. One rule lives here: a reading that cannot be negative
 * (bytes per connection, memory growth) but comes out negative says "not measurable" and
 * why, instead of printing a number nobody can use.
 */
export const fmt = (n: number | undefined): string => n === undefined || Number.isNaN(n) ? 'n/a' : n.toLocaleString('en-US', { maximumFractionDigits: 2 })

/** A ratio with two significant digits below 0.1, so a small one never prints as ×0. */
export const fmtRatio = (r: number): string => r > 0 && r < 0.1 ? String(Number(r.toPrecision(2))) : fmt(r)

export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length
}

/**
 * The middle reading (the mean of the middle two for an even count): one round that a busy
 * host slowed or left alone moves it less than it moves the mean.
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Why each non-negative reading of the idle-memory phase can still come out negative. */
export const NEGATIVE_REASONS = {
  rss: 'RSS fell between the readings: memory given back to the system outweighed the connections\'',
  heap: 'the JavaScript heap shrank between the readings',
  kernel: 'host-wide TCP memory fell between the readings as other sockets freed their buffers',
} as const

/** A figure that cannot be negative: the figure, or "not measurable (reason)". */
export function nonNegative(value: number | undefined, reason: string, format: (n: number) => string = fmt): string {
  if (value === undefined || Number.isNaN(value)) return 'n/a'
  return value < 0 ? `not measurable (${reason})` : format(value)
}

/** The same reading as a number fit for a ratio or a target: undefined when it is not measurable. */
export function measurable(value: number | undefined): number | undefined {
  return value === undefined || Number.isNaN(value) || value < 0 ? undefined : value
}
