import type { FrameErrorCode } from './error-codes.ts'
import type { Ref } from './client-frames.ts'

/** Why the stream of a topic cannot be proven complete (docs/protocol.md#reset). */
export type ResetReason = 'history_gone' | 'stream_gap' | 'unknown_position'

/**
 * Every frame the server sends, on every transport (WebSocket frames; SSE `data:`;
 * polling pages carry `event` frames). `head` on `subscribed` and `reset` is the
 * position the subscription is live from: a client that has no event of the topic yet
 * resumes from it after a drop.
 */
export type ServerFrame =
  | { readonly op: 'event'; readonly id: string; readonly topic: string; readonly type: string; readonly data: unknown; readonly ts: string; readonly lsn: string }
  | { readonly op: 'subscribed'; readonly topic: string; readonly head: string; readonly ref?: Ref }
  | { readonly op: 'unsubscribed'; readonly topic: string; readonly reason: 'client' | 'revoked'; readonly ref?: Ref }
  | { readonly op: 'reset'; readonly topic: string; readonly reason: ResetReason; readonly head: string }
  | { readonly op: 'error'; readonly code: FrameErrorCode; readonly message: string; readonly ref?: Ref }
  | { readonly op: 'pong'; readonly ref?: Ref }
  /** Replayed events of one subscription, in order, for a client that subscribed with `batch` (src/protocol/event-batch.ts). */
  | { readonly op: 'events'; readonly topic: string; readonly events: ReadonlyArray<Extract<ServerFrame, { op: 'event' }>> }
  | { readonly op: 'ephemeral'; readonly topic: string; readonly type: string; readonly data: unknown; readonly from: string; readonly ts: string }
  | { readonly op: 'presence'; readonly topic: string; readonly joined?: string; readonly left?: string; readonly users?: readonly string[]; readonly ref?: Ref }

export const RESET_REASONS: readonly ResetReason[] = ['history_gone', 'stream_gap', 'unknown_position']

// JSON.stringify drops an undefined ref.
export const errorFrame = (code: FrameErrorCode, message: string, ref?: Ref): string => JSON.stringify({ op: 'error', ref, code, message })
export const subscribedFrame = (topic: string, head: string, ref?: Ref): string => JSON.stringify({ op: 'subscribed', topic, ref, head })
export const unsubscribedFrame = (topic: string, reason: 'client' | 'revoked', ref?: Ref): string => JSON.stringify({ op: 'unsubscribed', topic, ref, reason })
export const resetFrame = (topic: string, reason: ResetReason, head: string): string => JSON.stringify({ op: 'reset', topic, reason, head })
export const pongFrame = (ref?: Ref): string => JSON.stringify({ op: 'pong', ref })
/** An ephemeral message: no id, never stored, never replayed (docs/invariants.md I16). */
export const ephemeralFrame = (topic: string, type: string, data: unknown, from: string, ts: string): string => JSON.stringify({ op: 'ephemeral', topic, type, data, from, ts })
export const presenceChangeFrame = (topic: string, change: 'joined' | 'left', userId: string): string => JSON.stringify({ op: 'presence', topic, [change]: userId })
export const presenceListFrame = (topic: string, users: readonly string[], ref?: Ref): string => JSON.stringify({ op: 'presence', topic, ref, users })
