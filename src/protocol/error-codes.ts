/**
 * The one closed set of error codes a client can see: in WebSocket `error` frames and in
 * every HTTP error body (`{"error":{"code","message"}}`), with the HTTP status each maps
 * to (docs/errors.md#client-error-codes). Operator-facing failures (CLI, start-up) carry
 * the upper-case codes of src/errors.ts instead.
 */
export const ERROR_STATUS = {
  bad_request: 400,
  unknown_op: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  payload_too_large: 413,
  too_many_subscriptions: 413,
  rate_limited: 429,
  too_many_connections: 429,
  internal: 500,
  auth_unavailable: 503,
  not_ready: 503,
  shutting_down: 503,
  /** A history read waited too long for its turn (src/subscription/read-gate.ts): poll again later. */
  overloaded: 503,
  not_ephemeral: 400,
} as const

export type ClientErrorCode = keyof typeof ERROR_STATUS

/** The codes a WebSocket `error` frame can carry (the rest are HTTP-only). */
export type FrameErrorCode = Extract<ClientErrorCode, 'bad_request' | 'unknown_op' | 'forbidden' | 'rate_limited' | 'too_many_subscriptions' | 'not_ephemeral' | 'payload_too_large'>

export function isClientErrorCode(code: unknown): code is ClientErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_STATUS, code)
}
