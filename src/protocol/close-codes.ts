/**
 * WebSocket close codes walcast sends, each with what a client should do about it
 * (docs/protocol.md#close-codes). `reconnect`: come back (with `since`) after a backoff
 * step; `refresh`: come back at once with a fresh token; `terminal`: a client bug, back
 * off further each time and give up after a few attempts.
 */
export type CloseClass = 'reconnect' | 'refresh' | 'terminal'

export const CLOSE = {
  goingAway: 1001,
  tooBig: 1009,
  internalError: 1011,
  tokenExpired: 4001,
  slowConsumer: 4008,
  rateLimited: 4029,
} as const

export type CloseCode = (typeof CLOSE)[keyof typeof CLOSE]

export const CLOSE_CLASS: Readonly<Record<CloseCode, CloseClass>> = {
  [CLOSE.goingAway]: 'reconnect',
  [CLOSE.tooBig]: 'terminal',
  [CLOSE.internalError]: 'reconnect',
  [CLOSE.tokenExpired]: 'refresh',
  [CLOSE.slowConsumer]: 'reconnect',
  [CLOSE.rateLimited]: 'terminal',
}

/** What to do after a close with `code` (unknown codes, e.g. a proxy's: reconnect). */
export function closeClass(code: number | undefined): CloseClass {
  return (CLOSE_CLASS as Record<number, CloseClass | undefined>)[code ?? 0] ?? 'reconnect'
}
