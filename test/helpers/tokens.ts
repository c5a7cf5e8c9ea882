import { SignJWT, base64url } from 'jose'

/** The HS256 secret test services are configured with (see `authEnv`). */
export const TEST_JWT_SECRET = 'walcast-test-secret-0123456789abcdef'

/** Env for a test service that accepts tokens from `signToken`; extra variables merge in. */
export function authEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { WALCAST_JWT_SECRET: TEST_JWT_SECRET, ...extra }
}

export interface TokenOptions {
  role?: string
  /** Seconds from now until `exp` (may be negative); default 3600. */
  expiresIn?: number
  /** Leave `exp` out altogether. */
  noExp?: boolean
  iss?: string
  aud?: string
  secret?: string
  /** Extra claims. */
  claims?: Record<string, unknown>
}

/** An HS256 token for user `sub`. */
export async function signToken(sub: string, options: TokenOptions = {}): Promise<string> {
  const jwt = new SignJWT({ ...(options.role === undefined ? {} : { role: options.role }), ...options.claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(sub)
    .setIssuedAt()
  if (!options.noExp) jwt.setExpirationTime(Math.floor(Date.now() / 1000) + (options.expiresIn ?? 3600))
  if (options.iss !== undefined) jwt.setIssuer(options.iss)
  if (options.aud !== undefined) jwt.setAudience(options.aud)
  return jwt.sign(new TextEncoder().encode(options.secret ?? TEST_JWT_SECRET))
}

export const adminToken = (sub = 'admin-1', options: TokenOptions = {}): Promise<string> => signToken(sub, { ...options, role: 'admin' })

/** An unsigned token (`alg: none`) claiming to be `sub`: must always be refused. */
export function unsignedToken(sub: string, claims: Record<string, unknown> = {}): string {
  const part = (value: unknown): string => base64url.encode(JSON.stringify(value))
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ sub, exp: Math.floor(Date.now() / 1000) + 3600, ...claims })}.`
}

/** The same token with one signature character changed (a middle one: every bit counts). */
export function tamperSignature(token: string): string {
  const [header, payload, signature] = token.split('.') as [string, string, string]
  const i = Math.floor(signature.length / 2)
  const swapped = signature[i] === 'A' ? 'B' : 'A'
  return `${header}.${payload}.${signature.slice(0, i)}${swapped}${signature.slice(i + 1)}`
}
