export interface BackoffPolicy {
  readonly initialMs: number
  readonly maxMs: number
  readonly maxAttempts: number
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 30_000, maxAttempts: 10 }

/**
 * The wait after the n-th consecutive failure (n >= 1): 1 s, 2 s, 4 s … capped, times a
 * jitter factor in [0.5, 1] so a fleet of dashboards does not reconnect in lockstep.
 */
export function backoffDelay(policy: BackoffPolicy, failures: number, random: number): number {
  const base = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, failures - 1))
  return Math.round(base * (0.5 + 0.5 * Math.min(1, Math.max(0, random))))
}
