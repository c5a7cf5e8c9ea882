import type uWS from 'uWebSockets.js'
import type { TokenVerifier } from '../auth/token-verifier.ts'
import { TokenError } from '../auth/token-verifier.ts'
import { STATUS_TEXT, httpError, type HttpResponse } from '../http/route.ts'
import { CLOSE } from '../protocol/close-codes.ts'
import { errorFrame } from '../protocol/server-frames.ts'
import type { Connection, Handshake, SocketData } from './connection.ts'
import type { GatewayCore } from './core.ts'
import type { Session } from './session.ts'
import { TokenBucket } from './token-bucket.ts'

export interface UpgradeState {
  closing: boolean
  nextId: number
  /** Sockets open whose token is still being verified. */
  readonly handshakes: Set<Handshake>
}

/** How long and how many sockets may wait for their token. */
export interface AdmissionLimits {
  /** A socket whose token is not verified by then is closed with 1013. */
  readonly deadlineMs: number
  /** At most this many sockets wait at once; more are refused with 429. */
  readonly maxWaiting: number
}

/** The deadline sits below jose's 5 s JWKS fetch timeout. */
export const ADMISSION_LIMITS: AdmissionLimits = { deadlineMs: 4_000, maxWaiting: 4096 }

export interface Admission {
  /** uWS's `upgrade`: synchronous, so uWS corks the 101 itself. */
  upgrade: uWS.WebSocketBehavior<SocketData>['upgrade']
  /** From `open`: verifies the token, then admits the connection or closes the socket. */
  authenticate(ws: uWS.WebSocket<SocketData>): void
  /** From `message` before the token verified: keeps a copy of the frame for later. */
  hold(ws: uWS.WebSocket<SocketData>, data: ArrayBuffer, isBinary: boolean): void
}

/**
 * `GET /v1/ws?token=<JWT>`. The upgrade is answered synchronously inside uWS's handler
 * and the token is verified once the socket is open. Why not verify first: jose verifies
 * asynchronously, and an upgrade after an await must then be corked by hand. In
 * uWebSockets.js 20.30, `res.cork(() => res.upgrade(…))` goes on reading the HTTP
 * response's state after upgrade() has reallocated the socket in place, and when that
 * memory happens to look like "Connection: close, response done" it shuts the new socket
 * down right after the 101 (seen on a fresh process's first client under a profiler,
 * test/gateway/gateway.first-client.test.ts; fixed upstream in uWebSockets PR #1929).
 * An uncorked upgrade prints "writes must be made from within a corked callback" on
 * stderr for every socket. A synchronous upgrade is corked by uWS, which hands the
 * socket over through its parser (no read of the old memory): sound and silent.
 *
 * Until the token verifies, frames are held (at most a burst of them, and a frame's worth
 * of bytes in all) and the socket is in no index: it receives nothing, counts for no
 * user, and is closed with 1013 if the verification takes longer than the deadline. A
 * refused token closes it with 4401, a user over the per-user limit with 4030
 * (docs/protocol.md#close-codes). The check of that limit and the admission happen in
 * one synchronous step, so concurrent sockets cannot slip past it. The token is never
 * logged.
 */
export function createAdmission(core: GatewayCore, session: Session, verifier: TokenVerifier, state: UpgradeState, limits: AdmissionLimits = ADMISSION_LIMITS): Admission {
  const { stats, index, config, log } = core

  function refuse(res: uWS.HttpResponse, response: HttpResponse): void {
    stats.upgradesRejected++
    // A refused upgrade also ends the connection: the client has nothing more to ask.
    res.writeStatus(STATUS_TEXT[response.status]!)
    for (const [name, value] of Object.entries(response.headers ?? {})) res.writeHeader(name, value)
    res.end(response.body, true)
  }

  function reject(ws: uWS.WebSocket<SocketData>, code: number, reason: string): void {
    stats.upgradesRejected++
    ws.end(code, reason)
  }

  function settle(hs: Handshake): boolean {
    clearTimeout(hs.deadline)
    // The socket's user data keeps the handshake as long as it is open: not its timer too.
    hs.deadline = undefined
    state.handshakes.delete(hs)
    return !hs.closed
  }

  function admit(ws: uWS.WebSocket<SocketData>, hs: Handshake, principal: Connection['principal']): void {
    if (state.closing) return reject(ws, CLOSE.goingAway, 'server shutting down')
    if (index.countForUser(principal.userId) >= config.maxConnectionsPerUser) {
      return reject(ws, CLOSE.tooManyConnections, `too many connections: at most ${config.maxConnectionsPerUser} per user`)
    }
    const conn: Connection = {
      id: ++state.nextId,
      principal,
      ws,
      closed: false,
      subscriptions: new Map(),
      bucket: new TokenBucket(config.rate, config.burst, config.rateTolerance),
      expiry: undefined,
      drainWaiters: [],
      oversize: 0,
      written: 0,
      liveness: { heard: true, took: false, silentSweeps: 0 },
    }
    ws.getUserData().conn = conn
    index.add(conn)
    stats.connections++
    stats.connectionsOpened++
    session.armExpiry(conn)
    for (const frame of hs.held) {
      if (conn.closed) break
      session.receive(conn, frame.data, frame.isBinary)
    }
    hs.held.length = 0
  }

  return {
    upgrade(res, req, context) {
      if (state.closing) return refuse(res, httpError(503, 'shutting_down', 'server is shutting down; reconnect to another instance'))
      const token = new URLSearchParams(req.getQuery() ?? '').get('token') ?? ''
      if (token === '') {
        stats.authFailures++
        return refuse(res, { ...httpError(401, 'unauthorized', 'no token: pass ?token=<JWT>'), headers: { 'content-type': 'application/json', 'www-authenticate': 'Bearer' } })
      }
      if (state.handshakes.size >= limits.maxWaiting) {
        return refuse(res, httpError(429, 'too_many_connections', 'too many connections are waiting for their token to be verified; retry shortly'))
      }
      const handshake: Handshake = { token, held: [], refused: 0, closed: false, ws: undefined, deadline: undefined }
      res.upgrade<SocketData>({ conn: undefined, handshake },
        req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context)
    },

    authenticate(ws) {
      const hs = ws.getUserData().handshake
      hs.ws = ws
      state.handshakes.add(hs)
      hs.deadline = setTimeout(() => {
        if (!settle(hs)) return
        log.warn({ ms: limits.deadlineMs }, 'token verification took too long; socket closed')
        reject(ws, CLOSE.tryAgainLater, 'token verification timed out')
      }, limits.deadlineMs)
      const token = hs.token
      hs.token = ''
      verifier.verify(token).then((principal) => {
        if (settle(hs)) admit(ws, hs, principal)
      }, (err: unknown) => {
        if (!settle(hs)) return
        const rejection = err instanceof TokenError ? err : new TokenError('malformed', 'token could not be verified', { cause: err })
        if (rejection.serverSide) {
          log.error({ err: rejection, reason: rejection.reason }, 'cannot verify tokens')
          return reject(ws, CLOSE.tryAgainLater, 'the server cannot verify tokens right now')
        }
        stats.authFailures++
        log.debug({ reason: rejection.reason }, 'websocket token refused')
        reject(ws, CLOSE.unauthorized, `token rejected (${rejection.reason})`)
      })
    },

    hold(ws, data, isBinary) {
      const hs = ws.getUserData().handshake
      if (data.byteLength > config.maxPayload) return ws.end(CLOSE.tooBig, 'frame too large')
      // At most a burst of frames and one frame's worth of bytes wait per socket, so
      // sockets that never authenticate cannot pile up memory. A frame past that is
      // refused as it would be after admission (an error, the socket kept) and a client
      // that keeps on past the tolerance is cut off: a slow token check must not turn a
      // client's burst into a close it would never have had once admitted.
      const bytes = hs.held.reduce((sum, frame) => sum + frame.data.byteLength, data.byteLength)
      if (hs.held.length >= config.burst || bytes > config.maxPayload) {
        stats.rateLimitedFrames++
        if (++hs.refused > config.rateTolerance) {
          stats.rateLimitCloses++
          return ws.end(CLOSE.rateLimited, 'rate limited')
        }
        ws.send(errorFrame('rate_limited', `slow down: at most ${config.burst} frames wait for the token to be verified`), false)
        return
      }
      // uWS reuses `data` after this callback.
      hs.held.push({ data: data.slice(0), isBinary })
    },
  }
}
