import type uWS from 'uWebSockets.js'
import { nativeUws } from '../http/uws.ts'
import type { TokenVerifier } from '../auth/token-verifier.ts'
import type { GatewayConfig } from '../config.ts'
import type { Logger } from '../log.ts'
import type { SubscriptionCore } from '../subscription/core.ts'
import type { Connection, SocketData } from './connection.ts'
import { createCore } from './core.ts'
import { createDelivery } from './delivery.ts'
import { createLiveness, UWS_IDLE_BACKSTOP_SEC } from './liveness.ts'
import { CLOSE } from '../protocol/close-codes.ts'
import { createSession } from './session.ts'
import { createStats, type GatewayStats } from './stats.ts'
import { createAdmission, type AdmissionLimits, type UpgradeState } from './upgrade.ts'
import type { EphemeralHub } from '../ephemeral/hub.ts'
import { createEphemeralSession, type EphemeralSession } from '../ephemeral/websocket.ts'

export const WS_PATH = '/v1/ws'

export interface GatewayDeps {
  readonly config: GatewayConfig
  readonly subscriptions: SubscriptionCore
  readonly verifier: TokenVerifier
  readonly log: Logger
  /** Sockets waiting for their token (default ADMISSION_LIMITS). */
  readonly admission?: AdmissionLimits
  /** Ephemeral messages and presence; without it `publish` and `presence` are refused with not_ephemeral. */
  readonly ephemeral?: EphemeralHub
}

export interface Gateway {
  /** Adds `GET /v1/ws` to the app (the HTTP server's `configure` hook). */
  mount(app: uWS.TemplatedApp): void
  /** Refuses new upgrades and closes every socket with 1001. */
  close(): void
  /** A snapshot of the counters, for metrics. */
  stats(): Readonly<GatewayStats>
  /** Where each open socket stands: what it is owed, what waits on it (a stuck delivery's first clue). */
  sockets(): SocketSnapshot[]
}

export interface SocketSnapshot {
  readonly id: number
  /** Bytes uWS holds for the socket, not yet handed to the kernel. */
  readonly buffered: number
  /** Bytes written to this socket alone (core.taken: less `buffered`, what the client took). */
  readonly written: number
  /** Replays waiting for `buffered` to fall to the drain level. */
  readonly drainWaiters: number
  readonly subscriptions: readonly { readonly topic: string; readonly state: 'pending' | 'live' }[]
}

/**
 * The WebSocket transport: admission (upgrade, then the JWT), the subscribe/replay protocol, live fan-out
 * from the hub through uWS topics, and the limits that keep one client from hurting
 * the others. Subscribe, resume, replay, revocation and resets are the subscription
 * core's; this is its WebSocket adapter.
 */
export function createGateway(deps: GatewayDeps): Gateway {
  const { config, log } = deps
  const stats = createStats()
  let ephemeral: EphemeralSession | undefined
  const lifecycle = { live: (c: Connection, t: string) => ephemeral?.live(c, t), ended: (c: Connection, t: string) => ephemeral?.ended(c, t) }
  const core = createCore({ config, stats, subscriptions: deps.subscriptions, log, lifecycle })
  ephemeral = deps.ephemeral === undefined ? undefined : createEphemeralSession(core, deps.ephemeral)
  const session = createSession(core, deps.verifier, ephemeral)
  const state: UpgradeState = { closing: false, nextId: 0, handshakes: new Set() }
  const admission = createAdmission(core, session, deps.verifier, state, deps.admission)
  let app: uWS.TemplatedApp | undefined
  const removeChannel = deps.subscriptions.addChannel(createDelivery(core, () => app))
  const liveness = createLiveness(core, core.index, config.idleTimeoutSec)

  return {
    mount(target) {
      app = target
      target.ws<SocketData>(WS_PATH, {
        // uWS's own ceilings sit above walcast's so walcast decides: a frame over
        // maxPayload closes with 1009, a buffer over maxBackpressure with 4008.
        maxPayloadLength: config.maxPayload * 4,
        maxBackpressure: config.maxBackpressure * 4 + 16 * 1024 * 1024,
        // walcast judges liveness itself (liveness.ts: a peer that reads a backlog is alive
        // although its pong waits behind it); uWS's timeout is only a backstop.
        idleTimeout: UWS_IDLE_BACKSTOP_SEC,
        sendPingsAutomatically: true,
        compression: nativeUws().DISABLED,
        upgrade: admission.upgrade,
        open(ws) {
          admission.authenticate(ws)
        },
        message(ws, data, isBinary) {
          const conn = ws.getUserData().conn
          if (conn === undefined) admission.hold(ws, data, isBinary)
          else {
            liveness.heard(conn)
            session.receive(conn, data, isBinary)
          }
        },
        ping(ws) {
          const conn = ws.getUserData().conn
          if (conn !== undefined) liveness.heard(conn)
        },
        pong(ws) {
          const conn = ws.getUserData().conn
          if (conn !== undefined) liveness.heard(conn)
        },
        drain(ws) {
          const conn = ws.getUserData().conn
          if (conn === undefined) return
          liveness.took(conn)
          core.wakeAfterDrain(conn)
        },
        close(ws) {
          const { conn, handshake } = ws.getUserData()
          handshake.closed = true
          clearTimeout(handshake.deadline)
          state.handshakes.delete(handshake)
          if (conn === undefined) return
          conn.closed = true
          clearTimeout(conn.expiry)
          for (const sub of conn.subscriptions.values()) {
            ephemeral?.ended(conn, sub.topic)
            sub.cancelled = true
            if (sub.handle !== undefined) deps.subscriptions.end(sub.handle)
            if (sub.state === 'live') stats.subscriptions--
          }
          core.index.remove(conn)
          conn.subscriptions.clear()
          stats.connections--
          core.wakeDrained(conn)
        },
      })
    },
    close() {
      if (state.closing) return
      state.closing = true
      removeChannel()
      liveness.stop()
      ephemeral?.close()
      for (const handshake of [...state.handshakes]) handshake.ws?.end(CLOSE.goingAway, 'server shutting down')
      const open = [...core.index.all]
      for (const conn of open) core.end(conn, CLOSE.goingAway, 'server shutting down')
      log.info({ closed: open.length }, 'websocket gateway closed')
    },
    stats: () => ({ ...stats }),
    sockets: () => [...core.index.all].map((conn) => ({
      id: conn.id,
      buffered: conn.closed || conn.ws === undefined ? 0 : conn.ws.getBufferedAmount(),
      written: conn.written,
      drainWaiters: conn.drainWaiters.length,
      subscriptions: [...conn.subscriptions.values()].map((sub) => ({ topic: sub.topic, state: sub.state })),
    })),
  }
}
