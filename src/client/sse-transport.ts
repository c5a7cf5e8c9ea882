import { isEventId } from '../event-id.ts'
import { createSseParser } from './sse-parser.ts'
import { endpoint, parseFrame, refusal, type TransportClose, type TransportContext, type Transport } from './transport.ts'

/** Resume point of one SSE stream over several topics: the oldest of their last ids. */
export function streamResumeId(topics: ReadonlyMap<string, string | undefined>): string | undefined {
  let oldest: string | undefined
  for (const since of topics.values()) if (since !== undefined && (oldest === undefined || since < oldest)) oldest = since
  return oldest
}

/** The code of a `close` message (`{"op":"close","code":4008,…}`); undefined if it has none. */
export function streamCloseCode(data: string): number | undefined {
  try {
    const value = JSON.parse(data) as { op?: unknown; code?: unknown } | null
    return value !== null && value.op === 'close' && Number.isInteger(value.code) ? (value.code as number) : undefined
  } catch {
    return undefined
  }
}

/**
 * SSE read through fetch rather than EventSource: it can send `Authorization`, works on
 * Node 20, and sees every event name (EventSource needs a listener per type).
 */
export function openSseTransport(context: TransportContext): Transport {
  const { handlers, clock } = context
  let opened = false
  let finished = false
  let controller: AbortController | undefined
  let generation = 0
  const timer = clock.setTimeout(() => { if (!opened) fail() }, context.openTimeoutMs)

  function fail(why?: { status: number; error?: string } | { code: number }): void {
    if (finished) return
    finished = true
    clock.clearTimeout(timer)
    controller?.abort()
    const close: TransportClose = { opened, ...why }
    handlers.closed(close)
  }

  function start(): void {
    const mine = ++generation
    controller?.abort()
    const abort = new AbortController()
    controller = abort
    const topics = context.topics()
    const url = endpoint(context.baseUrl, '/v1/sse')
    for (const topic of topics.keys()) url.searchParams.append('topic', topic)
    const resumeId = streamResumeId(topics)
    const headers: Record<string, string> = { accept: 'text/event-stream', authorization: `Bearer ${context.token()}` }
    if (resumeId !== undefined) headers['last-event-id'] = resumeId
    const current = (): boolean => mine === generation && !finished
    context.fetch(url.toString(), { headers, signal: abort.signal })
      .then(async (response) => {
        if (!current()) return
        if (!response.ok || response.body === null) {
          const refused = await refusal(response)
          if (current()) fail(refused)
          return
        }
        if (!opened) {
          opened = true
          clock.clearTimeout(timer)
          handlers.open()
        }
        // The server's reason for ending the stream, if it gave one: a WebSocket close code.
        let closeCode: number | undefined
        const parse = createSseParser((message) => {
          if (message.event === 'close') {
            closeCode = streamCloseCode(message.data)
            return
          }
          const frame = parseFrame(message.data)
          if (frame === undefined || !current()) return
          handlers.frame(frame)
          // One stream is in global id order: an id vouches for all of its topics.
          if (isEventId(message.id)) for (const topic of topics.keys()) handlers.frame({ op: 'position', topic, id: message.id })
        })
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
        for (;;) {
          const { done, value } = await reader.read()
          if (!current()) return
          if (done) break
          parse(value)
        }
        // The server ended the stream: as after a WebSocket close with the code it gave
        // (overload backs off, an expired token refreshes), or with none (reconnect).
        fail(closeCode === undefined ? undefined : { code: closeCode })
      })
      .catch(() => { if (current()) fail() })
  }

  if (context.topics().size === 0) {
    // Nothing to stream yet: the transport counts as open and starts on first subscribe.
    opened = true
    clock.clearTimeout(timer)
    clock.setTimeout(() => { if (!finished) handlers.open() }, 0)
  } else {
    start()
  }
  return {
    name: 'sse',
    // The topic set of an SSE stream is fixed: a change reopens it from the resume point.
    subscribe: () => { if (!finished) start() },
    unsubscribe: () => {
      if (finished) return
      if (context.topics().size === 0) { generation++; controller?.abort() } else start()
    },
    auth: () => { if (!finished) start() },
    close() {
      finished = true
      clock.clearTimeout(timer)
      controller?.abort()
    },
  }
}
