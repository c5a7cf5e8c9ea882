import { endpoint, parseFrame, type TransportContext, type Transport } from './transport.ts'

export function openWebSocketTransport(context: TransportContext): Transport {
  const { handlers, clock } = context
  let opened = false
  let finished = false
  const live = new Set<string>()
  let socket: ReturnType<typeof connect>
  const send = (frame: Record<string, unknown>): void => {
    if (opened && !finished) socket?.send(JSON.stringify(frame))
  }
  const finish = (code?: number): void => {
    if (finished) return
    finished = true
    clock.clearTimeout(timer)
    handlers.closed({ opened, ...(code === undefined ? {} : { code }) })
  }
  function connect() {
    if (context.WebSocket === undefined) return undefined
    const url = endpoint(context.baseUrl, '/v1/ws', true)
    url.searchParams.set('token', context.token())
    try {
      return new context.WebSocket(url.toString())
    } catch {
      return undefined
    }
  }
  const timer = clock.setTimeout(() => {
    if (!opened) {
      try { socket?.close() } catch { /* already closing */ }
      finish()
    }
  }, context.openTimeoutMs)
  socket = connect()
  if (socket === undefined) {
    // Reported asynchronously: callers expect `closed` after the factory returned.
    clock.setTimeout(() => finish(), 0)
  } else {
    socket.onopen = () => {
      if (finished) return
      opened = true
      clock.clearTimeout(timer)
      for (const [topic, since] of context.topics()) send({ op: 'subscribe', topic, ...(since === undefined ? {} : { since }) })
      handlers.open()
    }
    socket.onmessage = (message) => {
      const frame = parseFrame(message.data)
      if (frame === undefined || finished) return
      handlers.frame(frame)
      if (typeof frame.topic !== 'string') return
      if (frame.op === 'subscribed') live.add(frame.topic)
      else if (frame.op === 'unsubscribed') live.delete(frame.topic)
      else if (frame.op === 'event' && typeof frame.id === 'string') {
        // Once a topic is live on this socket, the hub's order holds across topics: an
        // event of any topic vouches that the live topic missed nothing up to its id.
        for (const topic of live) if (topic !== frame.topic) handlers.frame({ op: 'position', topic, id: frame.id })
      }
    }
    socket.onclose = (event) => finish(event.code)
    socket.onerror = () => {}
  }
  return {
    name: 'websocket',
    subscribe: (topic, since) => send({ op: 'subscribe', topic, ...(since === undefined ? {} : { since }) }),
    unsubscribe: (topic) => {
      live.delete(topic)
      send({ op: 'unsubscribe', topic })
    },
    auth: (token) => send({ op: 'auth', token }),
    close() {
      finished = true
      clock.clearTimeout(timer)
      try { socket?.close(1000) } catch { /* already closed */ }
    },
  }
}
