import type { Clock, FetchLike, TransportName, WebSocketConstructor } from './types.ts'

/** A frame from the server, whatever the transport (the WebSocket protocol's shapes). */
export interface ServerFrame {
  readonly op: string
  readonly topic?: string
  readonly id?: string
  readonly type?: string
  readonly code?: string
  readonly message?: string
  readonly reason?: string
  readonly [key: string]: unknown
}

export interface TransportClose {
  /** True when the transport had opened before it closed. */
  readonly opened: boolean
  /** WebSocket close code, if any. */
  readonly code?: number
  /** HTTP status of a refused SSE/polling request, if any. */
  readonly status?: number
}

export interface TransportHandlers {
  open(): void
  frame(frame: ServerFrame): void
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
  close(): void
}

export type TransportFactory = (context: TransportContext) => Transport

/** `http://h:p/base` → URL of a path under it, for `http(s)` or `ws(s)`. */
export function endpoint(baseUrl: string, path: string, websocket = false): URL {
  const url = new URL(path.replace(/^\//, ''), baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`)
  if (websocket) url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
  return url
}

export function parseFrame(text: unknown): ServerFrame | undefined {
  if (typeof text !== 'string') return undefined
  try {
    const value = JSON.parse(text) as unknown
    return value !== null && typeof value === 'object' && typeof (value as ServerFrame).op === 'string' ? (value as ServerFrame) : undefined
  } catch {
    return undefined
  }
}
