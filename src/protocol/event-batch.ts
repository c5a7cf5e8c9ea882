/**
 * The batch replay frame (docs/protocol.md#batched-replay): `{"op":"events","topic":T,
 * "events":[E1,E2,…]}` where each Ei is an `event` frame exactly as it would travel alone.
 * A client opts in per subscription (`"batch":true` on subscribe); without it every
 * replayed event is its own message. Live events are never batched.
 *
 * The server builds a batch by joining frames it already serialized (one per event and
 * topic, shared by every socket that replays it): no event is stringified again. The
 * SDK imports this file too, so it holds no server code.
 */

/** Upper bound of one batch frame, in UTF-8 bytes (a single larger event travels alone). */
export const EVENT_BATCH_MAX_BYTES = 64 * 1024

/** An event frame already serialized for one topic, with its UTF-8 length. */
export interface FrameText {
  readonly json: string
  readonly bytes: number
}

/** One WebSocket message of a replay: a batch of `count` events, or one event frame. */
export interface EventBatch {
  readonly text: string
  readonly bytes: number
  readonly count: number
}

/** What every batch frame of `topic` starts with, and its UTF-8 length (the tail `]}` adds 2). */
export function batchHead(topic: string): FrameText {
  const json = `{"op":"events","topic":${JSON.stringify(topic)},"events":[`
  return { json, bytes: utf8.encode(json).length }
}

// Not Buffer: the SDK runs in browsers too.
const utf8 = new TextEncoder()

const TAIL = ']}'

/**
 * How many frames from `start` one message carries: as many as fit in `maxBytes` with the
 * head, the commas and the tail; always at least one (a frame larger than the bound
 * travels alone, as a plain `event` frame).
 */
export function batchLength(frames: readonly FrameText[], start: number, head: FrameText, maxBytes: number): number {
  let bytes = head.bytes + TAIL.length + frames[start]!.bytes
  let end = start + 1
  while (end < frames.length) {
    const next = bytes + 1 + frames[end]!.bytes
    if (next > maxBytes) break
    bytes = next
    end++
  }
  return end - start
}

/** The message for `count` frames from `start`: a batch frame, or the event frame itself when alone. */
export function takeBatch(frames: readonly FrameText[], start: number, head: FrameText, maxBytes: number): EventBatch {
  const count = batchLength(frames, start, head, maxBytes)
  if (count === 1) return { text: frames[start]!.json, bytes: frames[start]!.bytes, count }
  let text = head.json
  let bytes = head.bytes + TAIL.length + count - 1
  for (let i = start; i < start + count; i++) {
    text += i === start ? frames[i]!.json : `,${frames[i]!.json}`
    bytes += frames[i]!.bytes
  }
  return { text: text + TAIL, bytes, count }
}

/** Bytes the messages for all of `frames` take, batched as takeBatch batches them. */
export function batchedBytes(frames: readonly FrameText[], head: FrameText, maxBytes: number): number {
  let total = 0
  for (let start = 0; start < frames.length;) {
    const count = batchLength(frames, start, head, maxBytes)
    total += count === 1 ? frames[start]!.bytes : head.bytes + TAIL.length + count - 1
    for (let i = start; i < start + count && count > 1; i++) total += frames[i]!.bytes
    start += count
  }
  return total
}

/**
 * A parsed server frame's events when it is a batch frame (the SDK's side): the members
 * that are objects, in order, each to be read as an `event` frame; undefined for any
 * other frame. A batch whose `events` is not an array carries nothing.
 */
export function batchMembers(value: unknown): readonly unknown[] | undefined {
  if (value === null || typeof value !== 'object' || (value as { op?: unknown }).op !== 'events') return undefined
  const events = (value as { events?: unknown }).events
  return Array.isArray(events) ? events : []
}
