/**
 * WebSocket close codes walcast sends, each with what a client should do about it
 * (docs/protocol.md#close-codes). `reconnect`: come back (with `since`) after a backoff
 * step; `overload`: the server (or the path to it) sheds load: come back (with `since`)
 * after a backoff that grows with each such close in a row, fully jittered so a fleet of
 * clients does not return in step; `refresh`: come back at once with a fresh token;
 * `terminal`: a client bug, back off further each time and give up after a few attempts.
 */
export type CloseClass = 'reconnect' | 'overload' | 'refresh' | 'terminal'

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
  [CLOSE.slowConsumer]: 'overload',
  [CLOSE.rateLimited]: 'terminal',
}

/** Codes walcast never sends that others on the path do, with their class. */
export const FOREIGN_CLOSE_CLASS: Readonly<Record<number, CloseClass>> = {
  // 1013 Try Again Later (RFC 6455 registry): a proxy or load balancer shedding load.
  1013: 'overload',
}

/** What to do after a close with `code` (unknown codes, e.g. a proxy's: reconnect). */
export function closeClass(code: number | undefined): CloseClass {
  return (CLOSE_CLASS as Record<number, CloseClass | undefined>)[code ?? 0] ?? FOREIGN_CLOSE_CLASS[code ?? 0] ?? 'reconnect'
}
