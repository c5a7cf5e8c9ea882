import { isEventId } from '../event-id.ts'
import { RESET_REASONS, type ResetReason } from '../protocol/server-frames.ts'
import { endpoint, readFrame, refusal, type TransportClose, type TransportContext, type Transport } from './transport.ts'

/** A `GET /v1/events` answer (docs/client.md#polling). */
interface Page {
  readonly events: readonly unknown[]
  readonly next: string
  readonly reset: boolean
  /** With `reset`: why the stream after `after` cannot be proven complete. */
  readonly reason?: ResetReason
}

const PAGE = 200

/**
 * Long-standing fallback: GET /v1/events per topic every interval, from the topic's last
 * id. A topic without one first asks for `limit=0`, which answers the current head: live
 * from now, as a WebSocket subscribe without `since`.
 */
export function openPollingTransport(context: TransportContext): Transport {
  const { handlers, clock } = context
  let opened = false
  let finished = false
  let timer: unknown
  const abort = new AbortController()
  // A server that accepts connections but never answers must not hold the attempt forever.
  const openTimer = clock.setTimeout(() => { if (!opened) fail() }, context.openTimeoutMs)
  const cursors = new Map<string, string | undefined>(context.topics())

  function fail(refused?: { status: number; error?: string }): void {
    if (finished) return
    finished = true
    clock.clearTimeout(timer)
    clock.clearTimeout(openTimer)
    abort.abort()
    const close: TransportClose = { opened, ...refused }
    handlers.closed(close)
  }

  async function fetchPage(topic: string, after: string | undefined): Promise<Page | { status: number; error?: string }> {
    const url = endpoint(context.baseUrl, '/v1/events')
    url.searchParams.set('topic', topic)
    if (after === undefined) url.searchParams.set('limit', '0')
    else {
      url.searchParams.set('after', after)
      url.searchParams.set('limit', String(PAGE))
    }
    const response = await context.fetch(url.toString(), { headers: { authorization: `Bearer ${context.token()}` }, signal: abort.signal })
    if (!response.ok) return refusal(response)
    return (await response.json()) as Page
  }

  /** One round over every topic; returns whether another page is waiting. */
  async function round(): Promise<boolean> {
    let more = false
    for (const [topic, after] of [...cursors]) {
      const page = await fetchPage(topic, after)
      if (finished || !cursors.has(topic)) continue
      if (!('events' in page)) {
        const { status } = page
        if (status === 403 || status === 404 || status === 400) {
          cursors.delete(topic)
          handlers.frame({ op: 'error', topic, code: status === 403 ? 'forbidden' : 'bad_request', message: `polling ${topic} refused with ${status}` })
          continue
        }
        if (status === 429) return false
        // The client decides by the status and the error's code (close-policy.ts): a 503
        // `overloaded` backs off as a WebSocket's 1013 does, not at the polling interval.
        throw Object.assign(new Error(`polling refused with ${status}`), { refused: page })
      }
      if (!opened) {
        opened = true
        clock.clearTimeout(openTimer)
        handlers.open()
      }
      if (!isEventId(page.next)) throw new Error(`polling ${topic}: the answer has no valid next id`)
      if (page.reset) {
        const reason = RESET_REASONS.find((known) => known === page.reason)
        // `next` is the head the topic goes on from: the reset's head.
        handlers.frame({ op: 'reset', topic, head: page.next, ...(reason === undefined ? {} : { reason }) })
      }
      for (const event of page.events) {
        const frame = readFrame({ ...(event as object), op: 'event', topic })
        if (frame !== undefined) handlers.frame(frame)
      }
      cursors.set(topic, page.next)
      handlers.frame({ op: 'position', topic, id: page.next })
      if (page.events.length >= PAGE) more = true
    }
    return more
  }

  function schedule(ms: number): void {
    timer = clock.setTimeout(() => {
      round().then(
        (more) => { if (!finished) schedule(more ? 0 : context.pollIntervalMs) },
        (err: { refused?: { status: number; error?: string } }) => fail(err?.refused),
      )
    }, ms)
  }

  if (cursors.size === 0) {
    clock.setTimeout(() => {
      if (finished) return
      opened = true
      clock.clearTimeout(openTimer)
      handlers.open()
      schedule(context.pollIntervalMs)
    }, 0)
  } else schedule(0)

  return {
    name: 'polling',
    subscribe: (topic, since) => { if (!cursors.has(topic)) cursors.set(topic, since) },
    unsubscribe: (topic) => { cursors.delete(topic) },
    auth: () => {},
    close() {
      finished = true
      clock.clearTimeout(timer)
      clock.clearTimeout(openTimer)
      abort.abort()
    },
  }
}
