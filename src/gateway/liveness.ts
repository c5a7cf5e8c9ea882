import type { Connection, ConnectionIndex } from './connection.ts'
import type { GatewayCore } from './core.ts'

/** The idle timeout handed to uWS: a backstop only, far past walcast's own. */
export const UWS_IDLE_BACKSTOP_SEC = 960

/** Sweeps per idle timeout. */
const SWEEPS = 4

export interface Liveness {
  /** The peer sent something (a message, a pong). */
  heard(conn: Connection): void
  /** Bytes left the socket's send buffer for the kernel: the peer is reading. */
  took(conn: Connection): void
  stop(): void
}

/**
 * Whether a WebSocket peer is still there: walcast's rule, not uWS's idle timeout. uWS
 * counts only bytes the client sends, and its own ping, sent at the timeout less a
 * margin (16 s at 60 s), waits behind every byte queued for the client: a client that
 * reads a backlog steadily but is more than that margin behind was dropped (1006),
 * although it was plainly alive. Here a peer is alive while it sends (a message, a pong)
 * or takes bytes (uWS's drain: its buffer moved on to the kernel, which had room only
 * because the client read). Every quarter of the idle timeout each socket not heard from
 * since the last sweep is pinged, so a pong has most of the timeout to come back from
 * behind a queue; one that neither answered nor took a byte for the whole idle timeout
 * is dropped as before (uWS's close: the client sees 1006). A reader that stops while
 * bytes are owed to it is closed sooner, with 4008, by the stall rule (I9).
 */
export function createLiveness(core: GatewayCore, index: ConnectionIndex, idleTimeoutSec: number): Liveness {
  const timer = setInterval(sweep, (idleTimeoutSec * 1000) / SWEEPS)
  timer.unref()

  function sweep(): void {
    for (const conn of index.all) {
      const ws = conn.ws
      if (conn.closed || ws === undefined) continue
      const { heard, took } = conn.liveness
      conn.liveness.silentSweeps = heard || took ? 0 : conn.liveness.silentSweeps + 1
      conn.liveness.heard = false
      conn.liveness.took = false
      if (conn.liveness.silentSweeps >= SWEEPS) {
        core.log.info({ conn: conn.id }, 'dropping a peer that answered no ping and took no byte for the idle timeout')
        ws.close()
        continue
      }
      if (!heard) core.ping(conn)
      // A write that empties uWS's buffer outside its writable callback (this ping, a
      // send) is followed by no drain while the socket is not polled for writability: a
      // replay waiting for one is looked at here, well within its stall window.
      core.wakeDrained(conn)
    }
  }

  return {
    heard(conn) { conn.liveness.heard = true },
    took(conn) { conn.liveness.took = true },
    stop() { clearInterval(timer) },
  }
}
