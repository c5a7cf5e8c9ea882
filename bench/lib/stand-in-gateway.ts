/**
 * TEMPORARY: a minimal speaker of the issue-3 protocol (subscribe/since/subscribed/event)
 * so the load scripts could be written before the gateway landed. Not a gateway: no
 * authorization, no limits. Removed once the real gateway is in main.
 */
import uWS from 'uWebSockets.js'
import { jwtVerify } from 'jose'
import type { Service } from '../../src/service.ts'
import { eventFrame } from '../../src/history/event.ts'
import { parseEventId } from '../../src/event-id.ts'

interface Data { user: string; pending: Map<string, string[]> }

export async function startStandInGateway(service: Service, secret: string): Promise<number> {
  const key = new TextEncoder().encode(secret)
  const app = uWS.App()
  const sockets = new Set<uWS.WebSocket<Data>>()
  service.hub.subscribe((events) => {
    for (const event of events) {
      for (const topic of event.topics) {
        const text = JSON.stringify(eventFrame(event, topic))
        for (const ws of sockets) {
          const pending = ws.getUserData().pending.get(topic)
          if (pending !== undefined) pending.push(text)
        }
        app.publish(topic, text)
      }
    }
  })
  app.ws<Data>('/v1/ws', {
    maxBackpressure: 64 * 1024 * 1024,
    upgrade: (res, req, context) => {
      let aborted = false
      res.onAborted(() => { aborted = true })
      const token = new URLSearchParams(req.getQuery() ?? '').get('token') ?? ''
      const k = req.getHeader('sec-websocket-key')
      const p = req.getHeader('sec-websocket-protocol')
      const e = req.getHeader('sec-websocket-extensions')
      jwtVerify(token, key, { algorithms: ['HS256'] }).then((result) => {
        if (aborted) return
        res.cork(() => res.upgrade<Data>({ user: String(result.payload.sub), pending: new Map() }, k, p, e, context))
      }, () => {
        if (aborted) return
        res.cork(() => res.writeStatus('401 Unauthorized').end('{"error":{"code":"unauthorized","message":"bad token"}}'))
      })
    },
    open: (ws) => { sockets.add(ws) },
    close: (ws) => { sockets.delete(ws) },
    message: (ws, message) => {
      const frame = JSON.parse(Buffer.from(message).toString()) as { op: string; topic: string; since?: string; ref?: string }
      if (frame.op === 'ping') { ws.send(JSON.stringify({ op: 'pong', ref: frame.ref })); return }
      if (frame.op !== 'subscribe') return
      const topic = frame.topic
      if (frame.since === undefined) {
        ws.subscribe(topic)
        ws.send(JSON.stringify({ op: 'subscribed', topic, ref: frame.ref }))
        return
      }
      const data = ws.getUserData()
      const buffered: string[] = []
      data.pending.set(topic, buffered)
      let after = frame.since
      void (async () => {
        for (;;) {
          const page = await service.history.readSince(topic, parseEventId(after), 1000)
          if (page.length === 0) break
          if (!sockets.has(ws)) return
          ws.cork(() => { for (const event of page) ws.send(JSON.stringify(eventFrame(event, topic))) })
          after = page[page.length - 1]!.id
        }
        if (!sockets.has(ws)) return
        data.pending.delete(topic)
        ws.cork(() => {
          for (const text of buffered) {
            const id = (JSON.parse(text) as { id: string }).id
            if (id > after) ws.send(text)
          }
          ws.subscribe(topic)
          ws.send(JSON.stringify({ op: 'subscribed', topic, ref: frame.ref }))
        })
      })()
    },
  })
  return new Promise((resolve, reject) => {
    app.listen('127.0.0.1', 0, (socket) => socket ? resolve(uWS.us_socket_local_port(socket)) : reject(new Error('stand-in listen failed')))
  })
}
