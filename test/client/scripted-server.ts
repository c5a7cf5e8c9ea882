import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'
import WebSocket, { WebSocketServer } from 'ws'
import type { ClientFrame } from '../../src/protocol/client-frames.ts'
import { waitFor } from '../helpers/wait.ts'

/** One connection the SDK opened to the scripted server. */
export interface ScriptedConnection {
  /** The `?token=` it connected with. */
  readonly token: string | null
  /** Every frame the SDK sent on it, in order. */
  readonly received: ClientFrame[]
  send(frame: unknown): void
  close(code: number): void
  /** Drops the TCP connection without a close frame (the SDK sees 1006). */
  terminate(): void
  /** The first frame (from index `from`) matching `match`. */
  next<F extends ClientFrame>(match: (frame: ClientFrame) => frame is F, from?: number): Promise<F>
}

export interface ScriptedServer {
  /** Base URL for the SDK (`http://127.0.0.1:port`). */
  readonly url: string
  readonly connections: ScriptedConnection[]
  /** The n-th connection (0-based), waiting for it to arrive. */
  connection(n: number): Promise<ScriptedConnection>
}

export const isSubscribe = (frame: ClientFrame): frame is Extract<ClientFrame, { op: 'subscribe' }> => frame.op === 'subscribe'

/**
 * A WebSocket server on /v1/ws that says only what the test makes it say: exact frames
 * and close codes the SDK must react to, without a database. Closed at teardown.
 */
export async function scriptedServer(t: Test): Promise<ScriptedServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/v1/ws' })
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()))
  t.teardown(() => new Promise<void>((resolve) => {
    for (const client of wss.clients) client.terminate()
    wss.close(() => resolve())
  }))
  const connections: ScriptedConnection[] = []
  wss.on('connection', (ws: WebSocket, request) => {
    const received: ClientFrame[] = []
    ws.on('message', (data) => received.push(JSON.parse(data.toString()) as ClientFrame))
    ws.on('error', () => {})
    connections.push({
      token: new URL(request.url ?? '/', 'http://x').searchParams.get('token'),
      received,
      send: (frame) => ws.send(JSON.stringify(frame)),
      close: (code) => ws.close(code),
      terminate: () => ws.terminate(),
      next: (match, from = 0) => waitFor(() => received.slice(from).find(match), 10_000, 'a frame from the SDK'),
    })
  })
  return {
    url: `http://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    connections,
    connection: (n) => waitFor(() => connections[n], 10_000, `connection ${n + 1}`),
  }
}
