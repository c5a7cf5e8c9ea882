import { closeClass, type CloseClass } from '../protocol/close-codes.ts'
import type { TransportClose } from './transport.ts'

/**
 * What the client does when a transport that had opened closes, by the close code's
 * class (src/protocol/close-codes.ts):
 * - `refresh` (4001, or an HTTP 401 when an SSE stream reopens): fetch a new token and
 *   reconnect at once; not a failure.
 * - `reconnect` (1001, 1011, a lost network, an SSE stream the server ended, any code
 *   walcast does not send): reconnect after the first backoff step, jittered, so a
 *   server that restarts does not get every client back in the same instant; resuming
 *   loses nothing. Not a failure.
 * - `overload` (4008 slow consumer, 1013 try again later, and an SSE or polling request
 *   refused with 503 for any reason but `shutting_down`: `overloaded` when history reads
 *   queue past WALCAST_DB_REPLAY_WAIT, `auth_unavailable`, a proxy shedding load):
 *   reconnect after a backoff
 *   that grows with each such close in a row and is fully jittered (backoff.ts); a
 *   connection that stayed healthy clears it. Not a failure.
 * - `terminal` (4029, 1009, 4030, 4401): counts as a failed attempt: backoff, and `failed` once
 *   `maxAttempts` failures follow one another.
 */
export function afterClose(close: TransportClose): CloseClass {
  if (close.status === 401) return 'refresh'
  // A server that is stopping sends 503 `shutting_down`: another instance can take the
  // client now, as after a WebSocket's 1001.
  if (close.status === 503) return close.error === 'shutting_down' ? 'reconnect' : 'overload'
  return closeClass(close.code)
}
