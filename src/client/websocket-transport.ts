import type { ClientFrame } from '../protocol/client-frames.ts'
import { endpoint, parseFrames, type IncomingFrame, type TransportContext, type Transport } from './transport.ts'

export function openWebSocketTransport(context: TransportContext): Transport {
  const { handlers, clock } = context
  let opened = false
  let finished = false
  /** Topics live on this socket whose events come in the hub's order: not conflated ones. */
  const live = new Set<string>()
  // The server answers a subscribe with its `ref`: a refusal (`forbidden`, …) names no
  // topic, so each subscribe carries a number that says which topic it was about.
  const subscribeRefs = new Map<number, string>()
  let nextRef = 1
  let socket: ReturnType<typeof connect>
  const send = (frame: ClientFrame): void => {
    if (opened && !finished) socket?.send(JSON.stringify(frame))
  }
  const subscribe = (topic: string, since: string | undefined): void => {
    if (!opened || finished) return
    const ref = nextRef++
    subscribeRefs.set(ref, topic)
    // batch: a replay arrives in batch frames, unpacked below into the same events, in order.
    send({ op: 'subscribe', topic, ref, ...(since === undefined ? {} : { since }), batch: true })
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
      for (const [topic, since] of context.topics()) subscribe(topic, since)
      handlers.open()
    }
    socket.onmessage = (message) => {
      // A batch frame is its events one by one: each moves the topic's resume point.
      for (const frame of parseFrames(message.data)) {
        if (finished) return
        receive(frame)
      }
    }
    const receive = (received: IncomingFrame): void => {
      let frame = received
      if ((frame.op === 'error' || frame.op === 'subscribed') && typeof frame.ref === 'number') {
        const topic = subscribeRefs.get(frame.ref)
        subscribeRefs.delete(frame.ref)
        if (frame.op === 'error' && topic !== undefined) frame = { ...frame, topic }
      }
      handlers.frame(frame)
      // A conflated topic's changes wait for the next flush (I17): an event of another
      // topic sent meanwhile is newer than a value still to come, so vouches for nothing.
      if (frame.op === 'subscribed') {
        if (frame.mode === 'conflated') live.delete(frame.topic)
        else live.add(frame.topic)
      } else if (frame.op === 'unsubscribed') live.delete(frame.topic)
      else if (frame.op === 'event') {
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
    subscribe,
    unsubscribe: (topic) => {
      live.delete(topic)
      send({ op: 'unsubscribe', topic })
    },
    auth: (token) => send({ op: 'auth', token }),
    send(frame) {
      if (!opened || finished) return false
      send(frame)
      return true
    },
    close() {
      finished = true
      clock.clearTimeout(timer)
      try { socket?.close(1000) } catch { /* already closed */ }
    },
  }
}
