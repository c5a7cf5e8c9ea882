import { SignJWT } from 'jose'

export const BENCH_JWT_SECRET = 'walcast-bench-secret-at-least-32-bytes-long'

/** An HS256 token as the gateway (and Centrifugo) expects it: sub = user id, optional role, exp required. */
export async function signToken(secret: string, sub: string, options: { role?: string; ttlSeconds?: number; channel?: string } = {}): Promise<string> {
  const claims: Record<string, unknown> = {}
  if (options.role !== undefined) claims.role = options.role
  // Centrifugo's subscription token names the one channel it grants.
  if (options.channel !== undefined) claims.channel = options.channel
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + (options.ttlSeconds ?? 3600))
    .sign(new TextEncoder().encode(secret))
}
