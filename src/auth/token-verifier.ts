import { createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify, type JWTVerifyGetKey } from 'jose'
import type { AuthConfig } from '../config.ts'
import { WalcastError } from '../errors.ts'
import type { Principal } from './principal.ts'
import { createVerifiedTokens } from './verified-tokens.ts'

/** Why a token was refused; `unavailable` and `not_configured` are the server's fault. */
export type TokenRejection =
  | 'missing' | 'malformed' | 'expired' | 'bad_signature' | 'alg_not_allowed' | 'claim_invalid'
  | 'keys_unavailable' | 'not_configured'

export class TokenError extends WalcastError {
  readonly reason: TokenRejection
  /** true when the client can do nothing about it (HTTP 503 rather than 401). */
  readonly serverSide: boolean

  constructor(reason: TokenRejection, message: string, options: { cause?: unknown } = {}) {
    const serverSide = reason === 'keys_unavailable' || reason === 'not_configured'
    super(serverSide ? 'AUTH_UNAVAILABLE' : 'TOKEN_REJECTED', message, {
      cause: options.cause,
      hint: serverSide ? 'set WALCAST_JWT_SECRET or a reachable WALCAST_JWKS_URL' : 'send a fresh token signed by the configured issuer',
    })
    this.name = 'TokenError'
    this.reason = reason
    this.serverSide = serverSide
  }
}

export interface TokenVerifier {
  /** Resolves to the principal, or rejects with a TokenError. Never logs the token. */
  verify(token: string | undefined): Promise<Principal>
}

const ASYMMETRIC = ['RS256', 'ES256']
/** Tokens longer than this are refused before any parsing. */
const MAX_TOKEN_LENGTH = 8192

/**
 * HS256 with the shared secret and/or RS256/ES256 from a JWKS. The accepted algorithms
 * are pinned per key source, so `alg: none` and algorithm confusion (an HS256 token
 * "signed" with the RSA public key) fail before any key is used.
 */
export function createTokenVerifier(config: AuthConfig): TokenVerifier {
  const secret = config.secret === undefined ? undefined : new TextEncoder().encode(config.secret)
  const jwks = config.jwksUrl === undefined
    ? undefined
    : createRemoteJWKSet(new URL(config.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000, cacheMaxAge: 600_000 })
  const algorithms = [...(secret ? ['HS256'] : []), ...(jwks ? ASYMMETRIC : [])]
  // Imported once: handed raw bytes, jose imports a WebCrypto key on every verification,
  // which a resume storm (every client reconnecting at once) pays per socket.
  let hmacKey: Promise<CryptoKey> | undefined
  const secretKey = (): Promise<CryptoKey> => hmacKey ??= crypto.subtle.importKey('raw', secret!, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify'])
  // Only reached for an algorithm in `algorithms`, so its key source exists.
  const getKey: JWTVerifyGetKey = async (header, token) => header.alg === 'HS256' ? secretKey() : jwks!(header, token)

  const verified = createVerifiedTokens({ max: 10_000, maxAgeMs: 600_000, clockToleranceSec: config.clockToleranceSec })

  return {
    async verify(token) {
      if (token === undefined || token === '') throw new TokenError('missing', 'no token: pass ?token=<JWT>')
      if (algorithms.length === 0) throw new TokenError('not_configured', 'no JWT key is configured on this server')
      if (token.length > MAX_TOKEN_LENGTH) throw new TokenError('malformed', 'token too long')
      const known = verified.get(token, Date.now())
      if (known !== undefined) return known
      try {
        // Refuse before fetching keys: a forged header must not make us hit the JWKS URL.
        const alg = decodeProtectedHeader(token).alg
        if (alg === undefined || !algorithms.includes(alg)) throw new TokenError('alg_not_allowed', `algorithm ${JSON.stringify(alg ?? null)} is not accepted`)
      } catch (err) {
        if (err instanceof TokenError) throw err
        throw new TokenError('malformed', 'token is not a JWT', { cause: err })
      }
      try {
        const { payload } = await jwtVerify(token, getKey, {
          algorithms,
          issuer: config.issuer,
          audience: config.audience,
          clockTolerance: config.clockToleranceSec,
          requiredClaims: ['exp', 'sub'],
        })
        if (typeof payload.sub !== 'string' || payload.sub === '' || typeof payload.exp !== 'number') {
          throw new TokenError('claim_invalid', 'sub must be a non-empty string and exp a number')
        }
        const roles = otherRoles(payload)
        const principal: Principal = { userId: payload.sub, admin: payload.role === 'admin', ...(roles.length === 0 ? {} : { roles }), exp: payload.exp }
        verified.add(token, principal, Date.now())
        return principal
      } catch (err) {
        throw toTokenError(err)
      }
    },
  }
}

function toTokenError(err: unknown): TokenError {
  if (err instanceof TokenError) return err
  if (err instanceof errors.JWTExpired) return new TokenError('expired', 'token expired', { cause: err })
  if (err instanceof errors.JWTClaimValidationFailed) return new TokenError('claim_invalid', `claim ${err.claim} rejected: ${err.reason}`, { cause: err })
  if (err instanceof errors.JOSEAlgNotAllowed) return new TokenError('alg_not_allowed', 'algorithm not accepted', { cause: err })
  if (err instanceof errors.JWSSignatureVerificationFailed || err instanceof errors.JWKSNoMatchingKey) {
    return new TokenError('bad_signature', 'signature does not verify', { cause: err })
  }
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || !(err instanceof errors.JOSEError)) {
    // fetch failures surface as plain errors: the key set is unreachable, not the token bad.
    return new TokenError('keys_unavailable', 'signing keys could not be fetched', { cause: err })
  }
  return new TokenError('malformed', 'token is not a valid JWT', { cause: err })
}

/**
 * `role: "x"` and `roles: ["y", …]` besides `role: "admin"` (which is `admin`), for
 * catalogs' role rules; anything that is not a string is no role.
 */
function otherRoles(payload: Record<string, unknown>): string[] {
  const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : []
  if (typeof payload.role === 'string' && payload.role !== 'admin') roles.unshift(payload.role)
  return roles
}
