/**
 * A connection's ephemeral send budget for one topic: `burst` at once, refilled at
 * `perSecond`. Unlike the connection's frame bucket (src/gateway/token-bucket.ts) a refused
 * message draws nothing: a typing indicator that is refused is simply not sent, and the
 * client may send the next one as soon as the bucket has refilled one token.
 */
export class SendBudget {
  private tokens: number
  private updated: number

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst
    this.updated = now()
  }

  take(): boolean {
    const now = this.now()
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updated) / 1000) * this.perSecond)
    this.updated = now
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }
}

/** The size a message's `data` is capped by: its JSON text in UTF-8 bytes (absent data is `null`). */
export function dataBytes(data: unknown): number {
  return Buffer.byteLength(JSON.stringify(data ?? null))
}
