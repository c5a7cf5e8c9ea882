import type uWS from 'uWebSockets.js'
import type { TokenVerifier } from '../auth/token-verifier.ts'
import { TokenError } from '../auth/token-verifier.ts'
import { STATUS_TEXT, httpError, type HttpResponse } from '../http/route.ts'
import type { Connection, SocketData } from './connection.ts'
import type { GatewayCore } from './core.ts'
import { TokenBucket } from './token-bucket.ts'

export interface UpgradeState {
  closing: boolean
  nextId: number
}

/**
 * `GET /v1/ws?token=<JWT>`: verifies the token before any socket exists. uWS rules for
 * an async upgrade: register onAborted first and copy the headers now (the request dies
 * with this callback). The token is never logged.
 */
export function createUpgradeHandler(core: GatewayCore, verifier: TokenVerifier, state: UpgradeState): uWS.WebSocketBehavior<SocketData>['upgrade'] {
  const { stats, index, config, log } = core
  return (res, req, context) => {
    let aborted = false
    res.onAborted(() => { aborted = true })
    const key = req.getHeader('sec-websocket-key')
    const protocol = req.getHeader('sec-websocket-protocol')
    const extensions = req.getHeader('sec-websocket-extensions')
    const token = new URLSearchParams(req.getQuery() ?? '').get('token') ?? undefined

    const refuse = (response: HttpResponse): void => {
      stats.upgradesRejected++
      if (aborted) return
      // A refused upgrade also ends the connection: the client has nothing more to ask.
      res.cork(() => {
        res.writeStatus(STATUS_TEXT[response.status]!)
        for (const [name, value] of Object.entries(response.headers ?? {})) res.writeHeader(name, value)
        res.end(response.body, true)
      })
    }
    if (state.closing) return refuse(httpError(503, 'shutting_down', 'server is shutting down; reconnect to another instance'))

    verifier.verify(token).then((principal) => {
      if (aborted) return
      if (state.closing) return refuse(httpError(503, 'shutting_down', 'server is shutting down; reconnect to another instance'))
      if (index.countForUser(principal.userId) >= config.maxConnectionsPerUser) {
        return refuse(httpError(429, 'too_many_connections', `at most ${config.maxConnectionsPerUser} connections per user`))
      }
      const conn: Connection = {
        id: ++state.nextId,
        principal,
        ws: undefined,
        closed: false,
        subscriptions: new Map(),
        bucket: new TokenBucket(config.rate, config.burst, config.rateTolerance),
        expiry: undefined,
        drainWaiters: [],
      }
      // uWS runs `open` inside upgrade(): the per-user count above cannot be raced.
      // Not inside res.cork(): in uWebSockets.js 20.30 the cork wrapper goes on using the
      // HTTP response's memory after upgrade() has moved the socket, and now and then
      // (reliably for a fresh process's first client under a profiler) it shuts the new
      // socket down right after the 101. The price is uWS's "writes must be made from
      // within a corked callback" warning on stderr for each upgrade (docs/operations.md).
      res.upgrade<SocketData>({ conn }, key, protocol, extensions, context)
    }, (err: unknown) => {
      if (aborted) return
      const rejection = err instanceof TokenError ? err : new TokenError('malformed', 'token could not be verified', { cause: err })
      if (rejection.serverSide) {
        log.error({ err: rejection, reason: rejection.reason }, 'cannot verify tokens')
        return refuse(httpError(503, 'auth_unavailable', rejection.message))
      }
      stats.authFailures++
      log.debug({ reason: rejection.reason }, 'websocket upgrade refused')
      refuse({ ...httpError(401, 'unauthorized', rejection.message), headers: { 'content-type': 'application/json', 'www-authenticate': 'Bearer' } })
    })
  }
}
