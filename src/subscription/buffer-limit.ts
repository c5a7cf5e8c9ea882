/**
 * The send-buffer rule every transport applies (I9, docs/protocol.md#large-events): the
 * limit bounds what is queued, not the size of one frame. A frame written while what is
 * queued ahead of it is at most half the limit (the pacing mark) is admitted whatever its
 * size, and until the buffer is back under the limit the limit stands that frame's size
 * higher. Without this an event larger than the limit closed every client slower than
 * loopback each time it was sent, and the client's resume sent it again: a loop, not a
 * slow consumer. Replays and paced catch-ups wait for the buffer to drain below the
 * pacing mark before they write, so they never need more than this one frame of room.
 */
export interface BufferAllowance {
  /** The size of a frame admitted past the limit while it may still be buffered; 0: none. */
  oversize: number
}

/**
 * Whether a buffer holding `buffered` bytes, `frameBytes` of them the frame just written
 * (0: no write, a check), is past `limit` under the rule above; updates `allowance`.
 */
export function overBufferLimit(allowance: BufferAllowance, limit: number, buffered: number, frameBytes: number): boolean {
  if (buffered <= limit) {
    allowance.oversize = 0
    return false
  }
  // At most `buffered - frameBytes` is queued ahead of the frame (the kernel may have
  // taken some of either meanwhile): at or below the pacing mark, admit it.
  if (frameBytes > 0 && buffered - frameBytes <= Math.floor(limit / 2)) {
    if (frameBytes > allowance.oversize) allowance.oversize = frameBytes
    return false
  }
  return buffered > limit + allowance.oversize
}
