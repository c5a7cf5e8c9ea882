import fs from 'node:fs/promises'
import http from 'node:http'
import { jwtVerify } from 'jose'
import pg from 'pg'
import { Server, type Socket } from 'socket.io'

/**
 * The design most teams build: Socket.IO with a room per escrow, a JWT check on the
 * handshake, a membership query on join, fed by a Postgres trigger and LISTEN/NOTIFY.
 * Connection state recovery is on (Socket.IO's own "best effort" resume), which is the
 * peer's best case for the reconnect-loss measurement.
 */
export interface SocketIoPeerOptions {
  readonly databaseUrl: string
  readonly secret: string
  readonly host: string
  readonly port: number
}

export interface SocketIoPeer {
  readonly port: number
  close(): Promise<void>
}

interface SubscribeFrame { topic?: unknown }
type Ack = (reply: { ok: true } | { ok: false; code: string }) => void

export async function installPeerTrigger(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    await client.query(await fs.readFile(new URL('./trigger.sql', import.meta.url), 'utf8'))
  } finally {
    await client.end()
  }
}

export async function startSocketIoPeer(options: SocketIoPeerOptions): Promise<SocketIoPeer> {
  const key = new TextEncoder().encode(options.secret)
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 4 })
  const listener = new pg.Client({ connectionString: options.databaseUrl })
  await listener.connect()
  const httpServer = http.createServer()
  const io = new Server(httpServer, {
    transports: ['websocket'],
    connectionStateRecovery: { maxDisconnectionDuration: 120_000, skipMiddlewares: true },
    maxHttpBufferSize: 16 * 1024,
  })

  io.use((socket, next) => {
    const token = (socket.handshake.auth as { token?: unknown }).token
    if (typeof token !== 'string') return next(new Error('unauthorized'))
    jwtVerify(token, key, { algorithms: ['HS256'] }).then((result) => {
      socket.data.user = String(result.payload.sub)
      socket.data.admin = result.payload.role === 'admin'
      next()
    }, () => next(new Error('unauthorized')))
  })

  io.on('connection', (socket: Socket) => {
    socket.on('subscribe', (frame: SubscribeFrame, ack: Ack) => {
      const reply = typeof ack === 'function' ? ack : () => {}
      const topic = frame?.topic
      const match = typeof topic === 'string' ? /^escrow:(\d{1,18})$/.exec(topic) : null
      if (match === null) return reply({ ok: false, code: 'bad_request' })
      const allowed = socket.data.admin === true
        ? Promise.resolve(true)
        : pool.query('SELECT 1 FROM public.escrow_parties WHERE escrow_id = $1 AND user_id = $2', [match[1], socket.data.user]).then((r) => r.rowCount === 1)
      allowed.then((ok) => {
        if (!ok) return reply({ ok: false, code: 'forbidden' })
        void socket.join(topic as string)
        reply({ ok: true })
      }, () => reply({ ok: false, code: 'internal' }))
    })
  })

  listener.on('notification', (message) => {
    if (message.payload === undefined) return
    const event = JSON.parse(message.payload) as { topic: string }
    io.to(event.topic).emit('event', { op: 'event', ...event })
  })
  await listener.query('LISTEN escrow_events')

  await new Promise<void>((resolve) => httpServer.listen(options.port, options.host, resolve))
  const port = (httpServer.address() as { port: number }).port
  return {
    port,
    async close() {
      await new Promise<void>((resolve) => io.close(() => resolve()))
      await listener.end().catch(() => {})
      await pool.end().catch(() => {})
    },
  }
}
