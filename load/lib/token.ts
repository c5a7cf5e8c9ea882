import { hmac } from 'k6/crypto'
import encoding from 'k6/encoding'

/** HS256 JWT signed inside the script: sub = user id, role optional, exp required by walcast. */
export function signToken(secret: string, sub: string, role?: string, ttlSeconds = 3600): string {
  if (secret === '') throw new Error('WALCAST_JWT_SECRET is empty: set it to the secret walcast verifies with')
  const now = Math.floor(Date.now() / 1000)
  const header = encoding.b64encode(JSON.stringify({ alg: 'HS256', typ: 'JWT' }), 'rawurl')
  const claims: Record<string, unknown> = { sub, iat: now, exp: now + ttlSeconds }
  if (role !== undefined) claims.role = role
  const payload = encoding.b64encode(JSON.stringify(claims), 'rawurl')
  const signature = encoding.b64encode(hmac('sha256', secret, `${header}.${payload}`, 'binary'), 'rawurl')
  return `${header}.${payload}.${signature}`
}
