import type { EscrowEventMap, EscrowEventType } from '../catalogs/escrow/events.ts'
import type { ResetReason } from '../protocol/server-frames.ts'

/**
 * One event as every transport delivers it (the WebSocket `event` frame), typed by a
 * catalog's event map (type → data); the escrow catalog's by default.
 */
export type WalcastEvent<M extends object = EscrowEventMap> = {
  [K in keyof M & string]: {
    readonly id: string
    readonly topic: string
    readonly type: K
    readonly data: M[K]
    /** Commit time of the source transaction, ISO-8601. */
    readonly ts: string
    readonly lsn: string
  }
}[keyof M & string]

export type { EscrowEventMap, EscrowEventType, ResetReason }

/** What a `reset` said (docs/protocol.md#reset); either may be missing from an older server. */
export interface ResetInfo {
  /** `history_gone` (pruned), `stream_gap` (a recorded gap), `unknown_position` (an id this server never issued). */
  readonly reason?: ResetReason
  /** The position the topic goes on from: its state as of here is what to refetch; it resumes from here. */
  readonly head?: string
}

export type Status = 'connecting' | 'open' | 'reconnecting' | 'offline' | 'failed'
export type TransportName = 'websocket' | 'sse' | 'polling'

export interface StatusInfo {
  readonly status: Status
  /** Consecutive failed connection attempts since the last successful one. */
  readonly failures: number
  /** While reconnecting: how long until the next attempt. */
  readonly delayMs?: number
  /** While open: the transport in use. */
  readonly transport?: TransportName
}

/** What the client needs of a timer: injectable so backoff can be tested on a fake clock. */
export interface Clock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

/** The subset of the WHATWG WebSocket the client uses (browsers, Node 22+, the `ws` package). */
export interface WebSocketLike {
  readonly readyState: number
  onopen: ((event: unknown) => void) | null
  onmessage: ((event: { data: unknown }) => void) | null
  onclose: ((event: { code: number; reason: string }) => void) | null
  onerror: ((event: unknown) => void) | null
  send(data: string): void
  close(code?: number, reason?: string): void
}

export type WebSocketConstructor = new (url: string) => WebSocketLike

export type FetchLike = (input: string, init?: { headers?: Record<string, string>; signal?: AbortSignal; method?: string }) => Promise<Response>

export interface ClientOptions {
  /** Base URL of walcast, e.g. `https://feed.example.com` or `http://127.0.0.1:8080`. */
  readonly url: string
  /** A fixed token; prefer `getToken` so the client can refresh it before it expires. */
  readonly token?: string
  readonly getToken?: () => string | Promise<string>
  /** Required on Node 20, which has no global WebSocket (pass the `ws` package's). */
  readonly WebSocket?: WebSocketConstructor
  readonly fetch?: FetchLike
  /** Transports to try, in order (default websocket, sse, polling). */
  readonly transports?: readonly TransportName[]
  readonly onReset?: (topic: string, info: ResetInfo) => void
  readonly clock?: Clock
  /** Jitter source in [0, 1]; injectable for tests. */
  readonly random?: () => number
  /** `healthyMs`: a connection open this long clears the overload backoff (default 60 s). */
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number; readonly maxAttempts?: number; readonly healthyMs?: number }
  readonly pollIntervalMs?: number
  /** While on SSE or polling, how often to try WebSocket again. */
  readonly upgradeProbeMs?: number
  /** Ask getToken for a new token this long before the current one expires. */
  readonly refreshBeforeExpiryMs?: number
  /** A transport that has not opened after this long counts as failed. */
  readonly openTimeoutMs?: number
}

/**
 * Why the server does not carry a topic: `forbidden` (no access, or no such topic),
 * `too_many_subscriptions` (the connection's limit), `revoked` (access ended while live),
 * `bad_request`; a newer server may send codes this SDK does not know.
 */
export type RefusalCode = 'forbidden' | 'too_many_subscriptions' | 'revoked' | 'bad_request' | (string & {})

/**
 * Where one subscribed topic stands. `pending`: asked for, not confirmed yet (also while
 * reconnecting); `live`: the server carries it; `refused`: the server does not, and no
 * event of it arrives, whatever the connection's status says.
 */
export type SubscriptionState =
  | { readonly state: 'pending' }
  | { readonly state: 'live' }
  | { readonly state: 'refused'; readonly code: RefusalCode; readonly message: string }

export interface ServerErrorInfo {
  readonly topic?: string
  readonly code: string
  readonly message: string
}

/** An ephemeral message (a typing indicator): live only, no id, never replayed (docs/client.md#ephemeral-messages-and-presence). */
export interface EphemeralMessage {
  readonly topic: string
  readonly type: string
  readonly data: unknown
  /** The sender's user id. */
  readonly from: string
  /** When the server accepted it, ISO-8601. */
  readonly ts: string
}

/** Someone came to or left a presence topic (a user with several tabs counts once). */
export type PresenceChange = { readonly topic: string; readonly joined: string } | { readonly topic: string; readonly left: string }

export interface WalcastClient<M extends object = EscrowEventMap> {
  /** Delivers each event of `topic` once, in order, across reconnects; returns unsubscribe. */
  subscribe(topic: string, onEvent: (event: WalcastEvent<M>) => void): () => void
  readonly status: Status
  /** The transport in use while open. */
  readonly transport: TransportName | undefined
  /** Observes the status; called at once with the current value. Returns unsubscribe. */
  onStatus(listener: (info: StatusInfo) => void): () => void
  /** The server could not prove the stream complete for `topic`: refetch its state. */
  onReset(listener: (topic: string, info: ResetInfo) => void): () => void
  /** Server-side refusals (forbidden topic, revoked access, rate limits). */
  onError(listener: (error: ServerErrorInfo) => void): () => void
  /** Where a subscribed topic stands (undefined for a topic not subscribed). */
  subscriptionState(topic: string): SubscriptionState | undefined
  /**
   * Observes every subscribed topic's state changes, `refused` included: a connection can
   * be `open` while a topic on it is not live. Called at once for each current topic.
   */
  onSubscriptionState(listener: (topic: string, state: SubscriptionState) => void): () => void
  /**
   * A topic's resume point: the last event id delivered, or a later position the server
   * vouched for (`subscribed`, `reset`, an SSE id, a polling `next`); sent on reconnect.
   */
  lastId(topic: string): string | undefined
  /**
   * Sends an ephemeral message to a topic this client is subscribed to (live) and whose
   * catalog declares `type`. At most once, live only: false when not connected over
   * WebSocket; a refusal (not_ephemeral, forbidden, payload_too_large, rate_limited)
   * reaches `onError` with the topic.
   */
  publish(topic: string, type: string, data?: unknown): boolean
  /** Ephemeral messages of subscribed topics, from other connections. Returns unsubscribe. */
  onEphemeral(listener: (message: EphemeralMessage) => void): () => void
  /** Who is on a presence topic now (the topic must be subscribed and live; WebSocket only). */
  presence(topic: string): Promise<string[]>
  /** Joins and leaves on subscribed presence topics. Returns unsubscribe. */
  onPresence(listener: (change: PresenceChange) => void): () => void
  /** Starts over after `failed` (or reconnects at once while waiting). */
  retry(): void
  close(): void
}
