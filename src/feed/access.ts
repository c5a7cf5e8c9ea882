/**
 * What the SSE and polling transports need of the gateway's auth (src/auth): the same
 * verifier and authorizer instances the WebSocket uses, so every transport applies the
 * same rules, limits and revocations. Declared structurally to keep this folder's
 * dependencies one-way.
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

export interface FeedRevocation {
  readonly userId: string
  readonly topic: string
  /** The `party_left` event: nothing after it reaches the user. */
  readonly eventId: string
}

export interface FeedAuthorizer {
  canRead(principal: FeedPrincipal, topic: string): Promise<boolean>
  /** Called synchronously while the hub publishes the revoking event, before transports see it. */
  onRevoke(listener: (revocation: FeedRevocation) => void): () => void
}

/** `Authorization: Bearer <jwt>` → the token, or undefined. */
export function bearerToken(header: string): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim())
  return match?.[1]
}

/** The HTTP answer to a refused token: 503 when the server cannot verify at all. */
export function tokenRefusal(err: unknown): { status: number; code: string; message: string } {
  if ((err as { serverSide?: unknown } | null)?.serverSide === true) {
    return { status: 503, code: 'auth_unavailable', message: 'the server cannot verify tokens right now' }
  }
  return { status: 401, code: 'unauthorized', message: 'the token is missing, invalid or expired' }
}
