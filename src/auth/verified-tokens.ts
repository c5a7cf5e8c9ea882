import type { Principal } from './principal.ts'

/**
 * Tokens this process verified lately, with what they said: a client that reconnects
 * presents the same token again, and a resume storm (every client of a node back at
 * once) would otherwise check the same signatures again, one WebCrypto job each, before
 * anything is replayed. An entry answers only while its token is unexpired (with the
 * same clock tolerance as the verification) and for at most `maxAgeMs` after it was
 * verified, the time the JWKS cache keeps a key: a token of a key withdrawn from the key
 * set may be taken for that long, as the cached key set would. Bounded by count; oldest
 * out first.
 */
export interface VerifiedTokens {
  get(token: string, nowMs: number): Principal | undefined
  add(token: string, principal: Principal, nowMs: number): void
}

export function createVerifiedTokens(options: { readonly max: number; readonly maxAgeMs: number; readonly clockToleranceSec: number }): VerifiedTokens {
  const entries = new Map<string, { readonly principal: Principal; readonly until: number }>()
  return {
    get(token, nowMs) {
      const entry = entries.get(token)
      if (entry === undefined) return undefined
      if (nowMs >= entry.until) {
        entries.delete(token)
        return undefined
      }
      return entry.principal
    },
    add(token, principal, nowMs) {
      // Valid while exp > now - tolerance (jose's rule), and no longer than maxAgeMs.
      const until = Math.min(nowMs + options.maxAgeMs, (principal.exp + options.clockToleranceSec) * 1000)
      if (until <= nowMs) return
      entries.delete(token)
      entries.set(token, { principal, until })
      if (entries.size > options.max) entries.delete(entries.keys().next().value!)
    },
  }
}
