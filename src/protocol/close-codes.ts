/**
 * WebSocket close codes walcast sends, each with what a client should do about it
 * (docs/protocol.md#close-codes). `reconnect`: come back (with `since`) after a backoff
 * step; `overload`: the server (or the path to it) sheds load: come back (with `since`)
 * after a backoff that grows with each such close in a row, fully jittered so a fleet of
 * clients does not return in step; `refresh`: come back at once with a fresh token;
 * `terminal`: coming back at once cannot help (a client bug, a refused token, a limit),
 * back off further each time and give up after a few attempts. After 4401 the SDK also
 * fetches a fresh token first.
 */
export type CloseClass = 'reconnect' | 'overload' | 'refresh' | 'terminal'

export const CLOSE = {
  goingAway: 1001,
  tooBig: 1009,
  internalError: 1011,
  /**
   * The server could not verify the token in time (keys unreachable, verification slow), or a
   * subscription's history read waited too long for its turn (a resume storm); a proxy
   * shedding load sends it too.
   */
  tryAgainLater: 1013,
  tokenExpired: 4001,
  slowConsumer: 4008,
  rateLimited: 4029,
  /** The user already has the most connections allowed (WALCAST_WS_MAX_CONNECTIONS_PER_USER). */
  tooManyConnections: 4030,
  /** The token of a new socket was refused (bad signature, expired, wrong claims). */
  unauthorized: 4401,
} as const

export type CloseCode = (typeof CLOSE)[keyof typeof CLOSE]

export const CLOSE_CLASS: Readonly<Record<CloseCode, CloseClass>> = {
  [CLOSE.goingAway]: 'reconnect',
  [CLOSE.tooBig]: 'terminal',
  [CLOSE.internalError]: 'reconnect',
  [CLOSE.tryAgainLater]: 'overload',
  [CLOSE.tokenExpired]: 'refresh',
  [CLOSE.slowConsumer]: 'overload',
  [CLOSE.rateLimited]: 'terminal',
  [CLOSE.tooManyConnections]: 'terminal',
  [CLOSE.unauthorized]: 'terminal',
}

/** What to do after a close with `code` (unknown codes, e.g. a proxy's: reconnect). */
export function closeClass(code: number | undefined): CloseClass {
  return (CLOSE_CLASS as Record<number, CloseClass | undefined>)[code ?? 0] ?? 'reconnect'
}
