import type uWS from 'uWebSockets.js'
import type { StoredEvent } from '../history/event.ts'
import type { HistoryStore } from '../history/store.ts'
import type { Hub } from '../hub/hub.ts'
import { STATUS_TEXT, httpError } from '../http/route.ts'
import { writeResponse } from '../http/server.ts'
import type { Logger } from '../log.ts'
import { bearerToken, tokenRefusal, type FeedAuthorizer, type FeedPrincipal, type FeedRevocation, type FeedVerifier } from './access.ts'
import { readMerged } from './merged-read.ts'
import { FeedRequestError, parseQuery, readEventId, readTopics } from './query.ts'
import { canResumeFrom } from './resume.ts'
import { sseControlText, sseEventText } from './sse-frames.ts'

export interface SseOptions {
  readonly history: HistoryStore
  readonly hub: Hub
  readonly verifier: FeedVerifier
  readonly authorizer: FeedAuthorizer
  readonly log: Logger
  readonly heartbeatMs: number
  readonly maxTopics: number
  /** Unsent bytes past which a stream is ended (the client resumes, losing nothing). */
  readonly maxBufferBytes: number
  readonly maxStreamsPerUser: number
  readonly pageSize?: number
}

export interface SseStreams {
  mount(app: uWS.TemplatedApp): void
  /** Open streams (for metrics and tests). */
  count(): number
  /** Ends every stream (shutdown). */
  close(): void
}

/** Live events that arrive while a replay runs; past this many, re-read them from history. */
const PENDING_MAX = 10_000

interface Stream {
  end(): void
}

export function createSseStreams(options: SseOptions): SseStreams {
  const streams = new Set<Stream>()
  const perUser = new Map<string, number>()
  const pageSize = options.pageSize ?? 500

  function mount(app: uWS.TemplatedApp): void {
    app.get('/v1/sse', (res, req) => {
      let aborted = false
      const abortHandlers: (() => void)[] = []
      res.onAborted(() => {
        aborted = true
        for (const handler of abortHandlers) handler()
      })
      const query = req.getQuery() ?? ''
      const authorization = req.getHeader('authorization')
      const lastEventIdHeader = req.getHeader('last-event-id')
      open(res, query, authorization, lastEventIdHeader, () => aborted, (h) => abortHandlers.push(h)).catch((err: unknown) => {
        const known = err instanceof FeedRequestError
        if (!known) options.log.error({ err }, 'sse stream failed to open')
        if (!aborted) {
          res.cork(() => writeResponse(res, known ? httpError(err.status, err.code, err.message) : httpError(500, 'internal', 'internal error')))
        }
      })
    })
  }

  async function open(res: uWS.HttpResponse, query: string, authorization: string, lastEventIdHeader: string, isAborted: () => boolean, onAbort: (h: () => void) => void): Promise<void> {
    const params = parseQuery(query)
    const token = bearerToken(authorization) ?? params.get('token') ?? undefined
    if (token === undefined || token === '') throw new FeedRequestError(401, 'unauthorized', 'send Authorization: Bearer <token> or ?token=')
    let principal: FeedPrincipal
    try {
      principal = await options.verifier.verify(token)
    } catch (err) {
      const refusal = tokenRefusal(err)
      throw new FeedRequestError(refusal.status, refusal.code, refusal.message)
    }
    const topics = readTopics(params, options.maxTopics)
    const since = readEventId(lastEventIdHeader || params.get('lastEventId'), 'Last-Event-ID')
    for (const topic of topics) {
      if (!(await options.authorizer.canRead(principal, topic))) throw new FeedRequestError(403, 'forbidden', `not allowed to read ${topic}`)
    }
    const reset = since !== undefined && !(await canResumeFrom(options.history, since))
    if (isAborted()) return
    // Counted after the last await, so concurrent opens cannot slip past the limit.
    const streamsOfUser = perUser.get(principal.userId) ?? 0
    if (streamsOfUser >= options.maxStreamsPerUser) throw new FeedRequestError(429, 'rate_limited', `at most ${options.maxStreamsPerUser} streams per user`)
    perUser.set(principal.userId, streamsOfUser + 1)
    runStream(res, principal, topics, reset ? undefined : since, reset, onAbort)
  }

  function runStream(res: uWS.HttpResponse, principal: FeedPrincipal, initialTopics: string[], since: string | undefined, reset: boolean, onAbort: (h: () => void) => void): void {
    const topics = new Set(initialTopics)
    let ended = false
    // Bytes written since the socket last took a write whole: an upper bound of what uWS
    // holds for this stream (uWS keeps what the kernel refuses; write() says when).
    let backlog = 0
    let writable: (() => void) | undefined
    // undefined: live; an array: a replay runs and live events wait here.
    let pending: StoredEvent[] | undefined = since === undefined ? undefined : []
    let overflowed = false

    const write = (text: string): void => {
      if (ended || text === '') return
      let ok = true
      res.cork(() => { ok = res.write(text) })
      if (ok) {
        backlog = 0
        return
      }
      backlog += Buffer.byteLength(text)
      if (backlog > options.maxBufferBytes) {
        // Never drop silently: end the stream; the client resumes from its last id.
        options.log.info({ user: principal.userId }, 'sse stream ended: slow consumer')
        finish(true)
      }
    }
    res.onWritable(() => {
      // uWS drains its buffer right after this handler: look again on the next turn.
      setImmediate(() => {
        const resume = writable
        writable = undefined
        resume?.()
      })
      return true
    })

    // Topics revoked by a party_left, with its id: later events of them are withheld.
    const revoked = new Map<string, string>()
    const readable = (topic: string, id: string): boolean => {
      const until = revoked.get(topic)
      return topics.has(topic) && (until === undefined || id <= until)
    }
    const subscribed = (event: StoredEvent): string[] => event.topics.filter((t) => readable(t, event.id))
    const deliver = (event: StoredEvent): void => {
      const mine = subscribed(event)
      if (mine.length > 0) write(sseEventText(event, mine))
    }
    const applyRevocations = (): void => {
      for (const topic of revoked.keys()) {
        topics.delete(topic)
        write(sseControlText('unsubscribed', { op: 'unsubscribed', topic, reason: 'revoked' }))
      }
      revoked.clear()
      if (topics.size === 0) finish(true)
    }
    const unsubscribeRevoke = options.authorizer.onRevoke((revocation: FeedRevocation) => {
      if (!ended && revocation.userId === principal.userId && topics.has(revocation.topic)) revoked.set(revocation.topic, revocation.eventId)
    })
    const unsubscribeHub = options.hub.subscribe((events) => {
      if (ended) return
      if (pending !== undefined) {
        for (const event of events) if (event.topics.some((t) => topics.has(t))) pending.push(event)
        if (pending.length > PENDING_MAX) {
          pending = []
          overflowed = true
        }
        return
      }
      for (const event of events) deliver(event)
      if (revoked.size > 0) applyRevocations()
    })

    const heartbeat = setInterval(() => write(': heartbeat\n\n'), options.heartbeatMs)
    const expiry = setTimeout(() => finish(true), Math.min(2 ** 31 - 1, Math.max(0, principal.exp * 1000 - Date.now())))

    function finish(endResponse: boolean): void {
      if (ended) return
      ended = true
      streams.delete(stream)
      clearInterval(heartbeat)
      clearTimeout(expiry)
      unsubscribeHub()
      unsubscribeRevoke()
      writable?.()
      const left = (perUser.get(principal.userId) ?? 1) - 1
      if (left <= 0) perUser.delete(principal.userId)
      else perUser.set(principal.userId, left)
      if (endResponse) res.cork(() => res.end())
    }
    const stream: Stream = { end: () => finish(true) }
    streams.add(stream)
    onAbort(() => finish(false))

    res.cork(() => {
      res.writeStatus(STATUS_TEXT[200]!)
      res.writeHeader('content-type', 'text/event-stream; charset=utf-8')
      res.writeHeader('cache-control', 'no-cache, no-transform')
      res.writeHeader('x-accel-buffering', 'no')
    })
    // `retry:` tells EventSource clients how soon to reconnect after a clean end.
    write('retry: 1000\n: walcast\n\n')
    if (reset) for (const topic of topics) write(sseControlText('reset', { op: 'reset', topic, reason: 'history_gone' }))
    if (since !== undefined) void replay(since)

    async function replay(from: string): Promise<void> {
      let cursor = from
      try {
        for (;;) {
          const page = await readMerged(options.history, [...topics], cursor, pageSize)
          if (ended) return
          for (const event of page.events) deliver(event)
          if (page.events.length > 0) cursor = page.events[page.events.length - 1]!.id
          if (page.complete && !overflowed) {
            // Same tick as the last read's result: nothing published can fall between.
            const waiting = pending ?? []
            pending = undefined
            for (const event of waiting) if (event.id > cursor) deliver(event)
            if (revoked.size > 0) applyRevocations()
            return
          }
          overflowed = false
          // Pace the replay by the client: the next page only once the socket drains.
          if (backlog > 0) await new Promise<void>((resolve) => { writable = resolve })
        }
      } catch (err) {
        options.log.error({ err }, 'sse replay failed')
        finish(true)
      }
    }
  }

  return {
    mount,
    count: () => streams.size,
    close() {
      for (const stream of [...streams]) stream.end()
    },
  }
}
