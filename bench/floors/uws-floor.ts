/**
 * The fan-out floor (#15 item 2): a bare uWebSockets.js process, the same build walcast
 * loads, that speaks just enough of walcast's protocol for the benchmark's clients
 * (subscribe → subscribed, then event frames) and publishes each NOTIFY of the peers'
 * trigger as one pre-serialized frame to its topic. No token check, no history, no
 * per-subscriber bookkeeping: what a delivery costs uWS and the kernel alone. Its CPU per
 * delivery is the floor for walcast's in the fan-out phase.
 */
import pg from 'pg'
import type uWS from 'uWebSockets.js'
import { currentRuntime, selectUws } from '../../src/http/uws.ts'
import { serveDriver } from '../lib/child-ipc.mjs'

const { uws } = selectUws(currentRuntime())
const decoder = new TextDecoder()
const app = uws.App().ws('/*', {
  maxPayloadLength: 16 * 1024,
  maxBackpressure: 1024 * 1024,
  idleTimeout: 0,
  sendPingsAutomatically: false,
  message: (ws, message) => {
    const frame = JSON.parse(decoder.decode(message)) as { op?: string; topic?: string }
    if (frame.op === 'subscribe' && typeof frame.topic === 'string') {
      ws.subscribe(frame.topic)
      ws.send(JSON.stringify({ op: 'subscribed', topic: frame.topic }))
    }
  },
})

const listener = new pg.Client({ connectionString: process.env.DATABASE_URL ?? '', application_name: 'walcast-bench-uws-floor' })
await listener.connect()
listener.on('notification', (message) => {
  if (message.payload === undefined) return
  const topic = (JSON.parse(message.payload) as { topic: string }).topic
  // The trigger's JSON object with `op` in front: built once, sent to every subscriber.
  app.publish(topic, `{"op":"event",${message.payload.slice(1)}`, false)
})
await listener.query('LISTEN escrow_events')

const listenSocket = await new Promise<uWS.us_listen_socket>((resolve, reject) => {
  app.listen('127.0.0.1', 0, (socket) => socket === false ? reject(new Error('uWS floor: listen failed')) : resolve(socket))
})
serveDriver(uws.us_socket_local_port(listenSocket), async () => {
  uws.us_listen_socket_close(listenSocket)
  await listener.end()
})
