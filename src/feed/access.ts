import type { ClientErrorCode } from '../protocol/error-codes.ts'

/**
 * What the SSE and polling transports need of the auth stage (src/auth): the same
 * verifier instance the WebSocket uses. Declared structurally to keep this folder's
 * dependencies one-way; access rules and revocations are the subscription core's.
 */
export interface FeedPrincipal {
  readonly userId: string
  readonly admin: boolean
  /** Token expiry, seconds since the epoch. */
  readonly exp: number
}

export interface FeedVerifier {
  /** Rejects when the token is missing, malformed, expired or wrongly signed. */
  verify(token: string | undefined): Promise<FeedPrincipal>
}

/** `Authorization: Bearer <jwt>` → the token, or undefined. */
export function bearerToken(header: string): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim())
  return match?.[1]
}

/** The HTTP answer to a refused token: 503 when the server cannot verify at all. */
export function tokenRefusal(err: unknown): { status: number; code: ClientErrorCode; message: string } {
  if ((err as { serverSide?: unknown } | null)?.serverSide === true) {
    return { status: 503, code: 'auth_unavailable', message: 'the server cannot verify tokens right now' }
  }
  return { status: 401, code: 'unauthorized', message: 'the token is missing, invalid or expired' }
}
