import { isEventId } from '../event-id.ts'
import type { FrameErrorCode } from './error-codes.ts'

/** What a client sends on the WebSocket (docs/protocol.md). Client frames are JSON text. */
export type Ref = string | number

export type ClientFrame =
  | { op: 'subscribe'; topic: string; since?: string; ref?: Ref; batch?: boolean }
  | { op: 'unsubscribe'; topic: string; ref?: Ref }
  | { op: 'auth'; token: string; ref?: Ref }
  | { op: 'ping'; ref?: Ref }
  | { op: 'publish'; topic: string; type: string; data?: unknown; ref?: Ref }
  | { op: 'presence'; topic: string; ref?: Ref }

export interface FrameError {
  readonly op: 'invalid'
  readonly code: FrameErrorCode
  readonly message: string
  readonly ref?: Ref
}

export const MAX_TOPIC_LENGTH = 256
export const MAX_REF_LENGTH = 128

const KNOWN_OPS = new Set(['subscribe', 'unsubscribe', 'auth', 'ping', 'publish', 'presence'])
export const MAX_EPHEMERAL_TYPE_LENGTH = 64

/** Parses one text frame; anything malformed becomes a FrameError the client is told about. */
export function parseClientFrame(text: string): ClientFrame | FrameError {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return invalid('bad_request', 'frame is not JSON')
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return invalid('bad_request', 'frame must be a JSON object')
  const frame = value as Record<string, unknown>
  const ref = frame.ref
  if (ref !== undefined && !isRef(ref)) return invalid('bad_request', `ref must be a string of at most ${MAX_REF_LENGTH} characters or a number`)
  const op = frame.op
  if (typeof op !== 'string') return invalid('bad_request', 'op is required', ref)
  if (!KNOWN_OPS.has(op)) return invalid('unknown_op', `unknown op ${JSON.stringify(op.slice(0, 32))}`, ref)
  switch (op) {
    case 'subscribe':
    case 'unsubscribe': {
      const topic = frame.topic
      if (typeof topic !== 'string' || topic === '') return invalid('bad_request', 'topic must be a non-empty string', ref)
      if (topic.length > MAX_TOPIC_LENGTH) return invalid('bad_request', `topic longer than ${MAX_TOPIC_LENGTH} characters`, ref)
      if (op === 'unsubscribe') return withRef({ op, topic }, ref)
      const since = frame.since
      if (since !== undefined && since !== null && !isEventId(since)) {
        return invalid('bad_request', 'since must be an event id exactly as received (e.g. 0000000001a2b3c4-00000000)', ref)
      }
      // Opt-in to batched replay frames (src/protocol/event-batch.ts); absent: one frame per event.
      const batch = frame.batch
      if (batch !== undefined && typeof batch !== 'boolean') return invalid('bad_request', 'batch must be true or false', ref)
      return withRef({ op, topic, ...(typeof since === 'string' ? { since } : {}), ...(batch === true ? { batch } : {}) }, ref)
    }
    case 'publish':
    case 'presence':
      return parseEphemeralFrame(op, frame, ref)
    case 'auth': {
      const token = frame.token
      if (typeof token !== 'string' || token === '') return invalid('bad_request', 'token must be a non-empty string', ref)
      return withRef({ op, token }, ref)
    }
    default:
      return withRef({ op: 'ping' }, ref)
  }
}

/** `publish` and `presence` (docs/protocol.md#ephemeral-messages-and-presence). */
function parseEphemeralFrame(op: 'publish' | 'presence', frame: Record<string, unknown>, ref: Ref | undefined): ClientFrame | FrameError {
  const topic = frame.topic
  if (typeof topic !== 'string' || topic === '') return invalid('bad_request', 'topic must be a non-empty string', ref)
  if (topic.length > MAX_TOPIC_LENGTH) return invalid('bad_request', `topic longer than ${MAX_TOPIC_LENGTH} characters`, ref)
  if (op === 'presence') return withRef({ op, topic }, ref)
  const type = frame.type
  if (typeof type !== 'string' || type === '' || type.length > MAX_EPHEMERAL_TYPE_LENGTH) {
    return invalid('bad_request', `type must be a non-empty string of at most ${MAX_EPHEMERAL_TYPE_LENGTH} characters`, ref)
  }
  return withRef({ op, topic, type, ...(frame.data === undefined ? {} : { data: frame.data }) }, ref)
}

export function isFrameError(frame: ClientFrame | FrameError): frame is FrameError {
  return frame.op === 'invalid'
}

function isRef(value: unknown): value is Ref {
  return (typeof value === 'string' && value.length <= MAX_REF_LENGTH) || (typeof value === 'number' && Number.isFinite(value))
}

function withRef<T extends object>(frame: T, ref: Ref | undefined): T & { ref?: Ref } {
  return ref === undefined ? frame : { ...frame, ref }
}

function invalid(code: FrameErrorCode, message: string, ref?: Ref): FrameError {
  return ref === undefined ? { op: 'invalid', code, message } : { op: 'invalid', code, message, ref }
}
