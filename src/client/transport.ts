import { isEventId } from '../event-id.ts'
import { batchMembers } from '../protocol/event-batch.ts'
import type { ClientFrame } from '../protocol/client-frames.ts'
import { RESET_REASONS, type ResetReason, type ServerFrame } from '../protocol/server-frames.ts'
import type { Clock, FetchLike, TransportName, WebSocketConstructor } from './types.ts'

type Frame<Op extends ServerFrame['op']> = Extract<ServerFrame, { op: Op }>

/**
 * The transport's own word that every event of `topic` up to `id` was delivered: an SSE
 * id, a polling page's `next`, a later event on a WebSocket where the topic is live.
 */
export interface PositionFrame {
  readonly op: 'position'
  readonly topic: string
  readonly id: string
}

/**
 * A server frame as the SDK reads it (src/protocol/server-frames.ts), checked on arrival.
 * `head`, and a reset's `reason`, may be missing: servers before they were added send
 * none. An `error` carries the topic it concerns when the transport knows it (polling
 * asks per topic; the WebSocket matches the subscribe's `ref`), and its code is kept as
 * sent: a newer server may know codes this SDK does not.
 */
export type IncomingFrame =
  | Frame<'event' | 'unsubscribed' | 'pong'>
  | (Omit<Frame<'subscribed'>, 'head'> & { readonly head?: string })
  | (Omit<Frame<'reset'>, 'head' | 'reason'> & { readonly head?: string; readonly reason?: ResetReason })
  | (Omit<Frame<'error'>, 'code'> & { readonly code: string; readonly topic?: string })
  | PositionFrame
  | Frame<'ephemeral' | 'presence'>

export interface TransportClose {
  /** True when the transport had opened before it closed. */
  readonly opened: boolean
  /** WebSocket close code, if any. */
  readonly code?: number
  /** HTTP status of a refused SSE/polling request, if any. */
  readonly status?: number
  /** The `error.code` of that refusal's body (`overloaded`, `shutting_down`, …), if it had one. */
  readonly error?: string
}

export interface TransportHandlers {
  open(): void
  frame(frame: IncomingFrame): void
  /** Called at most once, and never after `close()` was called by the client. */
  closed(info: TransportClose): void
}

export interface TransportContext {
  readonly baseUrl: string
  /** The topics to carry and, per topic, the last id delivered (resume point). */
  readonly topics: () => ReadonlyMap<string, string | undefined>
  readonly token: () => string
  readonly handlers: TransportHandlers
  readonly clock: Clock
  readonly fetch: FetchLike
  readonly WebSocket: WebSocketConstructor | undefined
  readonly pollIntervalMs: number
  readonly openTimeoutMs: number
}

export interface Transport {
  readonly name: TransportName
  subscribe(topic: string, since: string | undefined): void
  unsubscribe(topic: string): void
  /** A fresh token for the live connection. */
  auth(token: string): void
  /** Sends a client frame as it is (ephemeral `publish`, `presence`); false where the transport cannot (SSE, polling) or is not open. */
  send?(frame: ClientFrame): boolean
  close(): void
}

export type TransportFactory = (context: TransportContext) => Transport

/**
 * A refused SSE or polling request (not ok): the answer's status and its body's
 * `error.code` (src/http/route.ts httpError), which tells a server shedding load
 * (`overloaded`) from one that is stopping (`shutting_down`). The body is read only for a
 * 503; any other is dropped unread.
 */
export async function refusal(response: Response): Promise<{ status: number; error?: string }> {
  let error: string | undefined
  if (response.status === 503) {
    try {
      const body = (await response.json()) as { error?: { code?: unknown } } | null
      if (typeof body?.error?.code === 'string') error = body.error.code
    } catch {
      // A proxy's 503 page, or a body cut short: the status alone decides.
    }
  } else await response.body?.cancel().catch(() => {})
  return { status: response.status, ...(error === undefined ? {} : { error }) }
}

/** `http://h:p/base` → URL of a path under it, for `http(s)` or `ws(s)`. */
export function endpoint(baseUrl: string, path: string, websocket = false): URL {
  const url = new URL(path.replace(/^\//, ''), baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`)
  if (websocket) url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
  return url
}

/** JSON text of one frame (WebSocket message, SSE `data:`) → the frame, or undefined. */
export function parseFrame(text: unknown): IncomingFrame | undefined {
  if (typeof text !== 'string') return undefined
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  return readFrame(value)
}

/**
 * JSON text of one WebSocket message → its frames in order: a batch frame's events
 * (src/protocol/event-batch.ts), each read as an `event` frame and dropped if it is not
 * one, or the one frame the message is.
 */
export function parseFrames(text: unknown): IncomingFrame[] {
  if (typeof text !== 'string') return []
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return []
  }
  const members = batchMembers(value)
  if (members === undefined) {
    const frame = readFrame(value)
    return frame === undefined ? [] : [frame]
  }
  const frames: IncomingFrame[] = []
  for (const member of members) {
    const frame = readFrame(member)
    if (frame?.op === 'event') frames.push(frame)
  }
  return frames
}

/**
 * Keeps what the SDK relies on and drops the rest: a frame it cannot use is ignored,
 * never half-read. Ids must be event ids, whose string order is stream order.
 */
export function readFrame(value: unknown): IncomingFrame | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined
  const frame = value as Record<string, unknown>
  const topic = typeof frame.topic === 'string' ? frame.topic : undefined
  const head = isEventId(frame.head) ? frame.head : undefined
  switch (frame.op) {
    case 'event':
      if (topic === undefined || !isEventId(frame.id) || typeof frame.type !== 'string') return undefined
      return frame as unknown as Frame<'event'>
    case 'subscribed':
      if (topic === undefined) return undefined
      return { op: 'subscribed', topic, ...withRef(frame), ...(head === undefined ? {} : { head }), ...(frame.mode === 'conflated' ? { mode: 'conflated' as const } : {}) }
    case 'reset': {
      if (topic === undefined) return undefined
      const reason = RESET_REASONS.find((known) => known === frame.reason)
      return { op: 'reset', topic, ...(reason === undefined ? {} : { reason }), ...(head === undefined ? {} : { head }) }
    }
    case 'unsubscribed':
      if (topic === undefined) return undefined
      return { op: 'unsubscribed', topic, reason: frame.reason === 'revoked' ? 'revoked' : 'client', ...withRef(frame) }
    case 'error':
      if (typeof frame.code !== 'string') return undefined
      return { op: 'error', code: frame.code, message: typeof frame.message === 'string' ? frame.message : '', ...withRef(frame), ...(topic === undefined ? {} : { topic }) }
    case 'pong':
      return { op: 'pong', ...withRef(frame) }
    case 'ephemeral':
      if (topic === undefined || typeof frame.type !== 'string' || typeof frame.from !== 'string') return undefined
      return { op: 'ephemeral', topic, type: frame.type, data: frame.data ?? null, from: frame.from, ts: typeof frame.ts === 'string' ? frame.ts : '' }
    case 'presence': {
      if (topic === undefined) return undefined
      const users = Array.isArray(frame.users) ? frame.users.filter((u): u is string => typeof u === 'string') : undefined
      const change = typeof frame.joined === 'string' ? { joined: frame.joined } : typeof frame.left === 'string' ? { left: frame.left } : undefined
      if (users === undefined && change === undefined) return undefined
      return { op: 'presence', topic, ...(users === undefined ? change : { users }), ...withRef(frame) }
    }
    default:
      return undefined
  }
}

function withRef(frame: Record<string, unknown>): { ref?: string | number } {
  const ref = frame.ref
  return typeof ref === 'string' || typeof ref === 'number' ? { ref } : {}
}
