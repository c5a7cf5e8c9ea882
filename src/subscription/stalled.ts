/**
 * The stall rule's measure (I9): a client is stalled, and closed as a slow consumer, only
 * if it took fewer than this many bytes in a whole stall window (half the WebSocket idle
 * timeout). A paused reader takes exactly nothing once the kernel's buffers are full; a
 * client that reads slowly but steadily (a busy process, a thin link, a backlog shared by
 * a thousand sockets) takes far more, and closing it would only make it start over.
 */
export const STALL_MIN_BYTES = 4096

/** Whether the bytes taken between two readings clear the bar; unknown (no count) never does. */
export function tookEnough(before: number | undefined, after: number | undefined): boolean {
  if (before === undefined || after === undefined) return false
  return after - before >= STALL_MIN_BYTES
}
