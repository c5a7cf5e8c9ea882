/** The `exp` claim (ms since epoch) of a JWT, read without verifying: only to schedule refresh. */
export function tokenExpiry(token: string): number | undefined {
  const part = token.split('.')[1]
  if (part === undefined) return undefined
  try {
    const base64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=')
    const claims = JSON.parse(atob(base64)) as { exp?: unknown }
    return typeof claims.exp === 'number' ? claims.exp * 1000 : undefined
  } catch {
    return undefined
  }
}
