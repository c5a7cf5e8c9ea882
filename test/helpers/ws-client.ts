import WebSocket from 'ws'
import type { Test } from 'tap'
import { waitFor } from './wait.ts'

/** A server frame as JSON (the protocol of docs/protocol.md). */
export interface ServerFrame {
  op: string
  id?: string
  topic?: string
  type?: string
  data?: Record<string, unknown>
  ts?: string
  lsn?: string
  ref?: string | number
  code?: string
  reason?: string
  message?: string
  [key: string]: unknown
}

export interface CloseInfo {
  code: number
  reason: string
}

/**
 * A real WebSocket client that records every frame. Waiters poll the recorded frames,
 * so a test never races a frame that arrived before it started waiting.
 */
export interface TestWsClient {
  readonly ws: WebSocket
  /** Every frame received, in order. */
  readonly frames: ServerFrame[]
  /** Resolves when the socket closes (with the close code the client saw). */
  readonly closed: Promise<CloseInfo>
  /** The close, once it happened. */
  closeInfo(): CloseInfo | undefined
  send(frame: unknown): void
  sendRaw(data: string | Buffer, binary?: boolean): void
  subscribe(topic: string, options?: { since?: string; ref?: string | number }): void
  /** The first frame (from index `from`) matching `match`, waiting up to `ms`. */
  next(match: (frame: ServerFrame) => boolean, ms?: number, from?: number): Promise<ServerFrame>
  /** Subscribes and waits for `subscribed` (or an error/reset for it); returns that frame. */
  subscribeAndWait(topic: string, options?: { since?: string; ref?: string | number }, ms?: number): Promise<ServerFrame>
  /** Event frames received for `topic` (all topics when omitted). */
  events(topic?: string): ServerFrame[]
  /** Stops reading from the TCP socket (a client that stopped consuming). */
  pause(): void
  resume(): void
  close(code?: number): Promise<CloseInfo>
}

export function wsUrl(port: number, token: string | undefined, path = '/v1/ws'): string {
  return `ws://127.0.0.1:${port}${path}${token === undefined ? '' : `?token=${encodeURIComponent(token)}`}`
}

export interface ConnectOptions {
  path?: string
  /** false: never answer the server's pings (a dead peer). Default true. */
  autoPong?: boolean
}

/** Opens a socket and waits for it to be open; closed at teardown. */
export async function connectWs(t: Test, port: number, token: string | undefined, options: ConnectOptions = {}): Promise<TestWsClient> {
  const ws = new WebSocket(wsUrl(port, token, options.path), { autoPong: options.autoPong ?? true })
  const frames: ServerFrame[] = []
  let info: CloseInfo | undefined
  const closed = new Promise<CloseInfo>((resolve) => {
    ws.on('close', (code, reason) => {
      info = { code, reason: reason.toString() }
      resolve(info)
    })
  })
  ws.on('message', (data, isBinary) => {
    frames.push(isBinary ? { op: '<binary>' } : JSON.parse(data.toString()) as ServerFrame)
  })
  ws.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('unexpected-response', (req, res) => {
      req.destroy()
      reject(new Error(`upgrade refused with HTTP ${res.statusCode}`))
    })
    ws.once('error', reject)
  })
  t.teardown(() => { if (info === undefined) ws.terminate() })

  const client: TestWsClient = {
    ws,
    frames,
    closed,
    closeInfo: () => info,
    send: (frame) => ws.send(JSON.stringify(frame)),
    sendRaw: (data, binary = false) => ws.send(data, { binary }),
    subscribe: (topic, options = {}) => client.send({ op: 'subscribe', topic, ...options }),
    // On a timeout the error lists what did arrive: a flake then explains itself.
    next: (match, ms = 10_000, from = 0) => waitFor(() => frames.slice(from).find(match), ms, 'a matching frame').catch((err: Error) => {
      throw new Error(`${err.message}; frames since: ${JSON.stringify(frames.slice(from)).slice(0, 2000)}; socket state ${ws.readyState}`)
    }),
    async subscribeAndWait(topic, options = {}, ms = 15_000) {
      const from = frames.length
      client.subscribe(topic, options)
      return client.next((f) => f.topic === topic && ['subscribed', 'reset'].includes(f.op) || (f.op === 'error' && (options.ref === undefined || f.ref === options.ref)), ms, from)
    },
    events: (topic) => frames.filter((f) => f.op === 'event' && (topic === undefined || f.topic === topic)),
    pause: () => (ws as unknown as { _socket: { pause(): void } })._socket.pause(),
    resume: () => (ws as unknown as { _socket: { resume(): void } })._socket.resume(),
    async close(code = 1000) {
      if (info === undefined) ws.close(code)
      return closed
    },
  }
  return client
}

export interface RefusedUpgrade {
  status: number
  body: string
  headers: Record<string, string | string[] | undefined>
}

/** Attempts an upgrade that should be refused; returns the HTTP answer (fails if it opens). */
export async function refusedUpgrade(port: number, token: string | undefined, path?: string): Promise<RefusedUpgrade> {
  const ws = new WebSocket(wsUrl(port, token, path))
  ws.on('error', () => {})
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.terminate()
      reject(new Error('the upgrade was accepted'))
    })
    ws.once('unexpected-response', (req, res) => {
      let body = ''
      res.on('data', (chunk: Buffer) => { body += chunk.toString() })
      res.on('end', () => {
        req.destroy()
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers })
      })
    })
  })
}

/**
 * Makes `client` a reader slower than loopback: one socket read (at most 64 KiB) every
 * `everyMs`. The returned stop ends the pacing and leaves the socket paused, or reading
 * freely again with `resumeOnStop`. A read still owed (no data came in the last interval)
 * is not asked for twice, so a server that sends nothing for a while piles up no listeners.
 */
export function readSlowly(client: TestWsClient, everyMs: number, options: { resumeOnStop?: boolean } = {}): () => void {
  const socket = (client.ws as unknown as { _socket: NodeJS.EventEmitter & { pause(): void; resume(): void } })._socket
  let owed = false
  const pause = (): void => {
    owed = false
    socket.pause()
  }
  client.pause()
  const timer = setInterval(() => {
    if (!owed) {
      owed = true
      socket.once('data', pause)
    }
    socket.resume()
  }, everyMs)
  return () => {
    clearInterval(timer)
    socket.off('data', pause)
    if (options.resumeOnStop === true) socket.resume()
    else socket.pause()
  }
}

/** What the server says of its sockets (Gateway.sockets()). */
export interface SocketsView {
  sockets(): readonly { id: number; buffered: number; written: number; drainWaiters: number; subscriptions: readonly { topic: string; state: string }[] }[]
}

/**
 * Waits until `client` holds `count` events of `topic`, or is closed. On a timeout the
 * error says where delivery stood on both ends: what the client got and when its last
 * frame came, and for each server socket what uWS still buffers and whether a replay
 * waits for it to drain (a stuck replay then explains itself).
 */
export async function waitForEvents(client: TestWsClient, topic: string, count: number, ms: number, server?: SocketsView): Promise<void> {
  let lastCount = 0
  let lastAt = Date.now()
  try {
    await waitFor(() => {
      const got = client.events(topic).length
      if (got !== lastCount) {
        lastCount = got
        lastAt = Date.now()
      }
      return got >= count || client.closeInfo() !== undefined
    }, ms, `${count} events of ${topic} or a close`)
  } catch (err) {
    const got = client.events(topic)
    const last = got[got.length - 1]
    const state = {
      events: got.length,
      lastEventId: last?.id,
      msSinceLastEvent: Date.now() - lastAt,
      clientBuffered: (client.ws as unknown as { _socket?: { readableLength?: number } })._socket?.readableLength,
      server: server?.sockets(),
    }
    throw new Error(`${(err as Error).message}; delivery stood at ${JSON.stringify(state)}`)
  }
}
