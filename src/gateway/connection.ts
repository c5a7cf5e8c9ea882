import type uWS from 'uWebSockets.js'
import type { Principal } from '../auth/principal.ts'
import type { Subscriber } from '../subscription/core.ts'
import type { Ref } from '../protocol/client-frames.ts'
import type { TokenBucket } from './token-bucket.ts'

export interface Subscription {
  readonly topic: string
  readonly ref: Ref | undefined
  /** pending: authorizing or replaying; live: attached to the uWS topic. */
  state: 'pending' | 'live'
  /** Set when it ends, so a replay still running stops at its next step. */
  cancelled: boolean
  /** Its handle in the subscription core. */
  handle: Subscriber | undefined
  /** The head it last went live at: live delivery has handed it everything up to there. */
  liveFrom?: string
}

/** One client socket's state; also the uWS user data (`{ conn }`). */
export interface Connection {
  readonly id: number
  principal: Principal
  /** Set on open; never touched once `closed`. */
  ws: uWS.WebSocket<SocketData> | undefined
  closed: boolean
  readonly subscriptions: Map<string, Subscription>
  readonly bucket: TokenBucket
  expiry: NodeJS.Timeout | undefined
  /** Replays waiting for the send buffer to drain. */
  drainWaiters: (() => void)[]
  /**
   * Bytes written to this socket alone (frames and pings, not topic publishes): less what
   * uWS still buffers, what the client has taken, which the stall rule reads (core.taken).
   */
  written: number
  /** A frame admitted past the send-buffer limit (src/subscription/buffer-limit.ts). */
  oversize: number
  /** Signs of life since the last liveness sweep, and sweeps in a row without any (liveness.ts). */
  readonly liveness: { heard: boolean; took: boolean; silentSweeps: number }
}

/** A socket open before its token is verified (src/gateway/upgrade.ts). */
export interface Handshake {
  /** Emptied once handed to the verifier. */
  token: string
  /** Frames that arrived before the token verified, replayed in order on admission. */
  readonly held: { data: ArrayBuffer; isBinary: boolean }[]
  /** Frames refused because the held ones filled the bound: past the rate tolerance, 4029. */
  refused: number
  /** Set by uWS's close: whatever the verification says then is moot. */
  closed: boolean
  ws: uWS.WebSocket<SocketData> | undefined
  deadline: NodeJS.Timeout | undefined
}

/** uWS user data: the handshake until the token verifies, then also the connection. */
export interface SocketData {
  conn: Connection | undefined
  readonly handshake: Handshake
}

/**
 * How many connections each user holds, and which are live on which topic: the indexes
 * per-user limits and backpressure checks need. A count per user, not a set: only the
 * limit asks, and a set each is per-connection memory (bench §4).
 */
export class ConnectionIndex {
  private readonly byUser = new Map<string, number>()
  private readonly byTopic = new Map<string, Set<Connection>>()
  readonly all = new Set<Connection>()

  countForUser(userId: string): number {
    return this.byUser.get(userId) ?? 0
  }

  add(conn: Connection): void {
    if (this.all.has(conn)) return
    this.all.add(conn)
    this.byUser.set(conn.principal.userId, this.countForUser(conn.principal.userId) + 1)
  }

  remove(conn: Connection): void {
    if (!this.all.delete(conn)) return
    const userId = conn.principal.userId
    const left = this.countForUser(userId) - 1
    if (left > 0) this.byUser.set(userId, left)
    else this.byUser.delete(userId)
    for (const topic of conn.subscriptions.keys()) removeFrom(this.byTopic, topic, conn)
  }

  attach(conn: Connection, topic: string): void {
    addTo(this.byTopic, topic, conn)
  }

  detach(conn: Connection, topic: string): void {
    removeFrom(this.byTopic, topic, conn)
  }

  forTopic(topic: string): ReadonlySet<Connection> {
    return this.byTopic.get(topic) ?? EMPTY
  }
}

const EMPTY: ReadonlySet<Connection> = new Set()

function addTo(map: Map<string, Set<Connection>>, key: string, conn: Connection): void {
  let set = map.get(key)
  if (set === undefined) map.set(key, (set = new Set()))
  set.add(conn)
}

function removeFrom(map: Map<string, Set<Connection>>, key: string, conn: Connection): void {
  const set = map.get(key)
  if (set === undefined) return
  set.delete(conn)
  if (set.size === 0) map.delete(key)
}
