import { SignJWT } from 'jose'
import { sql } from 'kysely'
import type { Db } from '../db/database.ts'
import { bearerToken, tokenRefusal, type FeedVerifier } from '../feed/access.ts'
import { httpError, json, type HttpRoute } from '../http/route.ts'
import { overviewFor, rolesOf, type OverviewCatalog } from './overview.ts'

export interface DevRoutesOptions {
  readonly db: Db
  /** The running catalog: what `/v1/dev/overview` lists. */
  readonly catalog: OverviewCatalog
  readonly verifier: FeedVerifier
  /** HS256 secret the tokens are signed with (the one the verifier accepts). */
  readonly secret: string | undefined
  readonly issuer: string | undefined
  readonly audience: string | undefined
  readonly tokenTtlSec: number
}

/**
 * Dev-only sign-in for the dashboard: anyone can get a token for any user, so these
 * routes are mounted only on the embedded default or with WALCAST_DEV=1 (service.ts).
 */
export function devRoutes(options: DevRoutesOptions): HttpRoute[] {
  return [
    {
      method: 'get',
      path: '/v1/dev/users',
      async handle() {
        const users = await sql<{ id: string; name: string }>`SELECT id::text AS id, display_name AS name FROM public.users ORDER BY id LIMIT 50`.execute(options.db)
        return json(200, { users: users.rows })
      },
    },
    {
      method: 'get',
      path: '/v1/dev/token',
      async handle(req) {
        const user = new URLSearchParams(req.query).get('user') ?? ''
        if (!/^[1-9][0-9]{0,18}$/.test(user)) return httpError(400, 'bad_request', 'user must be a user id, e.g. ?user=1')
        if (options.secret === undefined) return httpError(503, 'auth_unavailable', 'dev tokens need WALCAST_JWT_SECRET')
        const found = await sql<{ name: string }>`SELECT display_name AS name FROM public.users WHERE id = ${user}::bigint`.execute(options.db)
        if (found.rows.length === 0) return httpError(404, 'not_found', `no user ${user}`)
        const roles = await rolesOf(options.db, options.catalog, user)
        let jwt = new SignJWT(roles.length === 0 ? {} : { roles: [...roles] }).setProtectedHeader({ alg: 'HS256' }).setSubject(user).setIssuedAt().setExpirationTime(`${options.tokenTtlSec}s`)
        if (options.issuer !== undefined) jwt = jwt.setIssuer(options.issuer)
        if (options.audience !== undefined) jwt = jwt.setAudience(options.audience)
        const token = await jwt.sign(new TextEncoder().encode(options.secret))
        return json(200, { token, user: { id: user, name: found.rows[0]!.name, roles } }, { 'cache-control': 'no-store' })
      },
    },
    {
      method: 'get',
      path: '/v1/dev/overview',
      async handle(req) {
        let userId: string
        try {
          userId = (await options.verifier.verify(bearerToken(req.header('authorization')))).userId
        } catch (err) {
          const refusal = tokenRefusal(err)
          return httpError(refusal.status, refusal.code, refusal.message)
        }
        return json(200, await overviewFor(options.db, options.catalog, userId), { 'cache-control': 'no-store' })
      },
    },
  ]
}
