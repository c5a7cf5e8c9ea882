import type { Test } from 'tap'
import WebSocket from 'ws'
import { createClient } from '../../src/client/index.ts'
import type { ClientOptions, FetchLike, WalcastClient, WalcastEvent, WebSocketConstructor } from '../../src/client/types.ts'

/** A network that can be cut: requests matching `blocked` fail as a refused connection would. */
export interface Switchboard {
  fetch: FetchLike
  WebSocket: WebSocketConstructor
  /** Paths (e.g. '/v1/ws', '/v1/sse') currently unreachable; 'all' cuts everything. */
  readonly blocked: Set<string>
  /** Blocks `path` and breaks the connections already open to it. */
  cut(path: string): void
}

export function switchboard(): Switchboard {
  const blocked = new Set<string>()
  const matches = (url: string, path: string): boolean => path === 'all' || new URL(url).pathname === path
  const cut = (url: string): boolean => [...blocked].some((path) => matches(url, path))
  const open = new Set<{ url: string; break(): void }>()
  class SwitchedWebSocket extends WebSocket {
    constructor(url: string) {
      // A blocked WebSocket dials a port nothing listens on: a real refused connection.
      super(cut(url) ? 'ws://127.0.0.1:9/' : url)
      const entry = { url, break: () => this.terminate() }
      open.add(entry)
      this.on('close', () => open.delete(entry))
    }
  }
  return {
    blocked,
    cut(path) {
      blocked.add(path)
      for (const entry of [...open]) if (matches(entry.url, path)) entry.break()
    },
    fetch(url, init) {
      if (cut(url)) return Promise.reject(new TypeError('fetch failed'))
      const controller = new AbortController()
      init?.signal?.addEventListener('abort', () => controller.abort())
      const entry = { url, break: () => controller.abort() }
      open.add(entry)
      return fetch(url, { ...init, signal: controller.signal }).finally(() => {
        // Streams stay breakable while their body is read; plain requests are done here.
        if (!new URL(url).pathname.endsWith('/sse')) open.delete(entry)
      })
    },
    WebSocket: SwitchedWebSocket as unknown as WebSocketConstructor,
  }
}

export interface Collected {
  readonly client: WalcastClient
  readonly events: WalcastEvent[]
  readonly resets: string[]
}

/** A client subscribed to `topics`, collecting what it delivers; closed at teardown. */
export function connectClient(t: Test, options: ClientOptions, topics: string[]): Collected {
  const client = createClient({ WebSocket: WebSocket as unknown as WebSocketConstructor, pollIntervalMs: 100, ...options })
  t.teardown(() => client.close())
  const events: WalcastEvent[] = []
  const resets: string[] = []
  client.onReset((topic) => resets.push(topic))
  for (const topic of topics) client.subscribe(topic, (event) => events.push(event))
  return { client, events, resets }
}
