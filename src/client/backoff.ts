export interface BackoffPolicy {
  readonly initialMs: number
  readonly maxMs: number
  readonly maxAttempts: number
  /**
   * A connection that stayed open this long was healthy: the next overload close starts
   * the overload backoff over at its first step.
   */
  readonly healthyMs: number
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 30_000, maxAttempts: 10, healthyMs: 60_000 }

const clamp = (random: number): number => Math.min(1, Math.max(0, random))
const step = (policy: BackoffPolicy, n: number): number => Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, n - 1))

/**
 * The wait after the n-th consecutive failure (n >= 1): 1 s, 2 s, 4 s … capped, times a
 * jitter factor in [0.5, 1] so a fleet of dashboards does not reconnect in lockstep.
 */
export function backoffDelay(policy: BackoffPolicy, failures: number, random: number): number {
  return Math.round(step(policy, failures) * (0.5 + 0.5 * clamp(random)))
}

/**
 * The wait after the n-th overload close in a row (4008, 1013; n >= 1): the same steps,
 * with full jitter (anywhere from 0 to the step). A server that shed a thousand slow
 * consumers at once gets them back spread over the whole step, not in a wave at its
 * middle, and clients that keep being shed come back ever more slowly.
 */
export function overloadDelay(policy: BackoffPolicy, closes: number, random: number): number {
  return Math.round(step(policy, closes) * clamp(random))
}

/**
 * Counts overload closes in a row; a connection that stayed open for `healthyMs` before
 * it was closed clears the count.
 */
export class OverloadStreak {
  private count = 0
  private openedAt: number | undefined

  constructor(private readonly policy: BackoffPolicy) {}

  opened(now: number): void {
    this.openedAt = now
  }

  /** An overload close at `now`: the wait before reconnecting. */
  closed(now: number, random: number): number {
    if (this.openedAt !== undefined && now - this.openedAt >= this.policy.healthyMs) this.count = 0
    this.openedAt = undefined
    this.count++
    return overloadDelay(this.policy, this.count, random)
  }

  /** Overload closes in a row so far. */
  get closes(): number {
    return this.count
  }

  reset(): void {
    this.count = 0
    this.openedAt = undefined
  }
}
