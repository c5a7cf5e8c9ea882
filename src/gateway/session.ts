import type { TokenVerifier } from '../auth/token-verifier.ts'
import { TokenError } from '../auth/token-verifier.ts'
import { isFrameError, parseClientFrame, type ClientFrame, type Ref } from '../protocol/client-frames.ts'
import { CLOSE } from '../protocol/close-codes.ts'
import { errorFrame, pongFrame, subscribedFrame } from '../protocol/server-frames.ts'
import type { Connection, Subscription } from './connection.ts'
import type { GatewayCore } from './core.ts'
import { subscriptionSink } from './subscription-sink.ts'
import type { EphemeralSession } from '../ephemeral/websocket.ts'

export interface Session {
  /** One inbound frame, handled before uWS reuses `data`'s memory. */
  receive(conn: Connection, data: ArrayBuffer, isBinary: boolean): void
  /** (Re)arms the 4001 close at the token's `exp`. */
  armExpiry(conn: Connection): void
}

// setTimeout's ceiling; longer expiries re-arm when it fires.
const MAX_TIMER_MS = 2_147_483_647

/** The protocol's client operations on one connection. Nothing a client sends throws. */
export function createSession(core: GatewayCore, verifier: TokenVerifier, ephemeral?: EphemeralSession): Session {
  const { stats, config, log, subscriptions } = core

  function fail(conn: Connection, code: Parameters<typeof errorFrame>[0], message: string, ref?: Ref): void {
    if (code === 'bad_request' || code === 'unknown_op') stats.badFrames++
    core.write(conn, errorFrame(code, message, ref))
  }

  function subscribe(conn: Connection, frame: Extract<ClientFrame, { op: 'subscribe' }>): void {
    const existing = conn.subscriptions.get(frame.topic)
    if (existing !== undefined) {
      // Already live: nothing can have been missed, so confirm without a replay.
      if (existing.state === 'live') core.write(conn, subscribedFrame(frame.topic, subscriptions.head(), frame.ref))
      else fail(conn, 'bad_request', 'a subscription to this topic is already being set up', frame.ref)
      return
    }
    if (conn.subscriptions.size >= config.maxSubscriptions) {
      fail(conn, 'too_many_subscriptions', `at most ${config.maxSubscriptions} subscriptions per connection`, frame.ref)
      return
    }
    const sub: Subscription = { topic: frame.topic, ref: frame.ref, state: 'pending', cancelled: false, handle: undefined }
    conn.subscriptions.set(frame.topic, sub)
    // Registered before the access check, so a revocation meanwhile is not missed (I7).
    const handle = subscriptions.register(conn.principal, [frame.topic], subscriptionSink(core, conn, sub, subscriptions.isFollow(frame.topic), frame.batch === true))
    sub.handle = handle
    if (frame.since !== undefined) stats.replayRequests++
    void (async () => {
      const forbidden = await subscriptions.authorize(handle)
      if (sub.cancelled || conn.closed) return
      if (forbidden !== undefined) {
        conn.subscriptions.delete(frame.topic)
        subscriptions.end(handle)
        fail(conn, 'forbidden', 'not allowed to read this topic', frame.ref)
        return
      }
      await subscriptions.start(handle, frame.since)
    })().catch((err: unknown) => {
      // The database failed under us: the client reconnects and resumes from its last id.
      log.error({ err, conn: conn.id }, 'subscribe failed; closing the connection')
      core.failed(conn, err)
    })
  }

  async function refresh(conn: Connection, frame: Extract<ClientFrame, { op: 'auth' }>): Promise<void> {
    let principal
    try {
      principal = await verifier.verify(frame.token)
    } catch (err) {
      stats.authFailures++
      const reason = err instanceof TokenError ? err.reason : 'malformed'
      fail(conn, 'forbidden', `token rejected (${reason}); the current one stays valid until it expires`, frame.ref)
      return
    }
    if (conn.closed) return
    if (principal.userId !== conn.principal.userId) {
      fail(conn, 'forbidden', 'the new token is for a different user; reconnect instead', frame.ref)
      return
    }
    conn.principal = principal
    for (const sub of conn.subscriptions.values()) if (sub.handle !== undefined) sub.handle.principal = principal
    armExpiry(conn)
    // A token with fewer rights (admin role gone) ends what it no longer covers.
    for (const topic of [...conn.subscriptions.keys()]) {
      const allowed = await subscriptions.canRead(principal, topic)
      if (!allowed && !conn.closed && conn.principal === principal && conn.subscriptions.has(topic)) core.cancel(conn, topic, 'revoked')
    }
  }

  function armExpiry(conn: Connection): void {
    clearTimeout(conn.expiry)
    const fire = (): void => {
      const left = conn.principal.exp * 1000 - Date.now()
      if (left > 0) {
        conn.expiry = setTimeout(fire, Math.min(left, MAX_TIMER_MS))
        conn.expiry.unref()
        return
      }
      stats.tokenExpiryCloses++
      core.end(conn, CLOSE.tokenExpired, 'token expired')
    }
    fire()
  }

  return {
    receive(conn, data, isBinary) {
      if (data.byteLength > config.maxPayload) {
        core.end(conn, CLOSE.tooBig, 'frame too large')
        return
      }
      const admission = conn.bucket.take()
      if (admission !== 'ok') {
        stats.rateLimitedFrames++
        if (admission === 'exceeded') {
          stats.rateLimitCloses++
          core.end(conn, CLOSE.rateLimited, 'rate limited')
        } else {
          core.write(conn, errorFrame('rate_limited', `slow down: at most ${config.rate} frames per second`))
        }
        return
      }
      if (isBinary) return fail(conn, 'bad_request', 'binary frames are not accepted; send JSON text')
      // uWS has already refused text frames that are not UTF-8 (close 1007).
      const frame = parseClientFrame(Buffer.from(data).toString('utf8'))
      if (isFrameError(frame)) return fail(conn, frame.code, frame.message, frame.ref)
      switch (frame.op) {
        case 'subscribe':
          return subscribe(conn, frame)
        case 'unsubscribe':
          return core.cancel(conn, frame.topic, 'client', frame.ref)
        case 'auth':
          void refresh(conn, frame).catch((err: unknown) => log.error({ err, conn: conn.id }, 'token refresh failed'))
          return
        case 'ping':
          core.write(conn, pongFrame(frame.ref))
          return
        case 'publish':
        case 'presence':
          if (ephemeral === undefined) return fail(conn, 'not_ephemeral', 'this server takes no ephemeral messages', frame.ref)
          return frame.op === 'publish' ? ephemeral.publish(conn, frame) : ephemeral.presence(conn, frame)
      }
    },
    armExpiry,
  }
}
