/** A token bucket per key: `ratePerSecond` sustained, `burst` at once. Idle keys are forgotten. */
export interface RateLimiter {
  take(key: string): boolean
}

export function createRateLimiter(ratePerSecond: number, burst: number, now: () => number = Date.now): RateLimiter {
  const buckets = new Map<string, { tokens: number; at: number }>()
  return {
    take(key) {
      const t = now()
      if (buckets.size > 10_000) for (const [k, b] of buckets) if (t - b.at > 60_000) buckets.delete(k)
      const bucket = buckets.get(key) ?? { tokens: burst, at: t }
      bucket.tokens = Math.min(burst, bucket.tokens + ((t - bucket.at) / 1000) * ratePerSecond)
      bucket.at = t
      buckets.set(key, bucket)
      if (bucket.tokens < 1) return false
      bucket.tokens -= 1
      return true
    },
  }
}
