export type Admission = 'ok' | 'limited' | 'exceeded'

/**
 * Inbound frames per connection: `burst` at once, refilled at `rate` per second. A frame
 * on an empty bucket is refused but still drawn, so the bucket goes into debt; a client
 * that keeps sending past `tolerance` refusals of debt is cut off, one that backs off
 * recovers as the bucket refills.
 */
const monotonicNow = (): number => performance.now()

export class TokenBucket {
  private tokens: number
  private updated: number

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly tolerance: number,
    // One function for every bucket: a default closure would be one more object per connection.
    private readonly now: () => number = monotonicNow,
  ) {
    this.tokens = burst
    this.updated = now()
  }

  take(): Admission {
    const now = this.now()
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updated) / 1000) * this.rate)
    this.updated = now
    this.tokens -= 1
    if (this.tokens >= 0) return 'ok'
    return this.tokens < -this.tolerance ? 'exceeded' : 'limited'
  }
}
