/** A growable sample of latencies (ms), capped so a long run cannot exhaust memory. */
export class LatencySample {
  private values = new Float64Array(1 << 16)
  private size = 0
  private seen = 0

  constructor(private readonly cap = 4_000_000) {}

  add(ms: number): void {
    this.seen++
    if (this.size === this.values.length) {
      if (this.size >= this.cap) {
        // Reservoir sampling past the cap keeps the percentiles unbiased.
        const slot = Math.floor(Math.random() * this.seen)
        if (slot < this.cap) this.values[slot] = ms
        return
      }
      const next = new Float64Array(Math.min(this.cap, this.values.length * 2))
      next.set(this.values)
      this.values = next
    }
    this.values[this.size++] = ms
  }

  get count(): number {
    return this.seen
  }

  clear(): void {
    this.size = 0
    this.seen = 0
  }

  percentiles(): Percentiles {
    return percentiles(this.values.subarray(0, this.size))
  }

  /** The kept values (a copy), to be merged with other processes' samples before percentiles are taken. */
  samples(): number[] {
    return Array.from(this.values.subarray(0, this.size))
  }
}

export interface Percentiles {
  readonly count: number
  readonly p50: number
  readonly p95: number
  readonly p99: number
  readonly p999: number
  readonly max: number
}

export function percentiles(values: Float64Array): Percentiles {
  const sorted = Float64Array.from(values).sort()
  const at = (q: number): number => sorted.length === 0 ? 0 : round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!)
  return { count: sorted.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), p999: at(0.999), max: sorted.length === 0 ? 0 : round(sorted[sorted.length - 1]!) }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100
}
