import type { LoadGenerator } from '../lib/generator-handle.ts'
import type { BenchPostgres } from '../lib/postgres.ts'
import type { SystemUnderTest } from '../lib/systems.ts'
import type { Profile } from '../profile.ts'

export interface BenchContext {
  readonly profile: Profile
  readonly postgres: BenchPostgres
  /** Interleaved in this order, round after round (A B A B). */
  readonly systems: readonly SystemUnderTest[]
  readonly generator: LoadGenerator
  readonly suffix: string
  log(message: string): void
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Each system once per round, in order: A B A B. */
export function* interleave(context: BenchContext): Generator<{ round: number; system: SystemUnderTest }> {
  for (let round = 1; round <= context.profile.rounds; round++) {
    for (const system of context.systems) yield { round, system }
  }
}

export async function waitUntil<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number, intervalMs = 20): Promise<T | undefined> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (performance.now() > deadline) return undefined
    await sleep(intervalMs)
  }
}

export function round(value: number, digits = 1): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}
