import type uWS from 'uWebSockets.js'
import { CLOSE, type CloseCode } from '../protocol/close-codes.ts'
import { overBufferLimit, type BufferAllowance } from '../subscription/buffer-limit.ts'
import { isOverloaded } from '../subscription/read-gate.ts'
import type { StoredEvent } from '../history/event.ts'
import { STATUS_TEXT, httpError, type HttpResponse } from '../http/route.ts'
import { writeResponse } from '../http/server.ts'
import type { Logger } from '../log.ts'
import type { Subscriber, SubscriberSink, SubscriptionCore } from '../subscription/core.ts'
import { bearerToken, tokenRefusal, type FeedPrincipal, type FeedVerifier } from './access.ts'
import { FeedRequestError, parseQuery, readEventId, readTopics } from './query.ts'
import { sseControlText, sseEventText } from './sse-frames.ts'

export interface SseOptions {
  readonly subscriptions: SubscriptionCore
  readonly verifier: FeedVerifier
  readonly log: Logger
  readonly heartbeatMs: number
  readonly maxTopics: number
  /** Unsent bytes past which a stream is ended (the client resumes, losing nothing). */
  readonly maxBufferBytes: number
  readonly maxStreamsPerUser: number
  /** Whether the server is stopping: new streams get 503. */
  readonly closing: () => boolean
}

export interface SseStreams {
  mount(app: uWS.TemplatedApp): void
  /** Open streams (for metrics and tests). */
  count(): number
  /** Ends every stream (shutdown). */
  close(): void
}

interface Stream {
  end(): void
}

/** Why the server ends a stream: the WebSocket close code of the same cause, so the SDK treats both alike. */
interface StreamClose {
  readonly code: CloseCode
  readonly reason: string
}

const SHUTTING_DOWN: StreamClose = { code: CLOSE.goingAway, reason: 'server shutting down' }
const SLOW_CONSUMER: StreamClose = { code: CLOSE.slowConsumer, reason: 'slow consumer' }
const TOKEN_EXPIRED: StreamClose = { code: CLOSE.tokenExpired, reason: 'token expired' }
const OVERLOADED: StreamClose = { code: CLOSE.tryAgainLater, reason: 'server busy; come back later' }
const INTERNAL_ERROR: StreamClose = { code: CLOSE.internalError, reason: 'internal error' }

/**
 * `GET /v1/sse?topic=…`: the subscription core's SSE adapter. One stream carries several
 * topics as one subscription; it resumes from `Last-Event-ID`. This file owns the SSE
 * framing and flow control only: what is sent when is the core's.
 */
export function createSseStreams(options: SseOptions): SseStreams {
  const streams = new Set<Stream>()
  const perUser = new Map<string, number>()
  const { subscriptions } = options

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
        const refusal = openRefusal(err)
        if (!aborted) res.cork(() => writeResponse(res, refusal))
      })
    })
  }

  function openRefusal(err: unknown): HttpResponse {
    if (err instanceof FeedRequestError) return httpError(err.status, err.code, err.message)
    // The access check reached a database that stopping is closing: no error of ours.
    if (options.closing()) return httpError(503, 'shutting_down', 'server is shutting down; reconnect to another instance')
    // The access check was shed for load: the SDK backs off as after a WebSocket's 1013.
    if (isOverloaded(err)) return httpError(503, 'overloaded', 'server busy; reconnect later')
    options.log.error({ err }, 'sse stream failed to open')
    return httpError(500, 'internal', 'internal error')
  }

  async function open(res: uWS.HttpResponse, query: string, authorization: string, lastEventIdHeader: string, isAborted: () => boolean, onAbort: (h: () => void) => void): Promise<void> {
    if (options.closing()) throw new FeedRequestError(503, 'shutting_down', 'server is shutting down; reconnect to another instance')
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
    // One stream has one cursor: a conflated topic's held events would fall behind it (I17).
    const conflated = topics.filter((topic) => subscriptions.isConflated(topic))
    if (conflated.length > 0 && conflated.length < topics.length) throw new FeedRequestError(400, 'bad_request', `conflated topic ${conflated[0]!} needs a stream of its own (or of conflated topics only)`)
    const since = readEventId(lastEventIdHeader || params.get('lastEventId'), 'Last-Event-ID')
    const stream = createStream(res, principal)
    // Registered before the access check, so a revocation meanwhile is not missed (I7).
    const sub = subscriptions.register(principal, topics, stream.sink)
    try {
      const forbidden = await subscriptions.authorize(sub)
      if (forbidden !== undefined) throw new FeedRequestError(403, 'forbidden', `not allowed to read ${forbidden}`)
      if (options.closing()) throw new FeedRequestError(503, 'shutting_down', 'server is shutting down; reconnect to another instance')
      // Counted after the last await, so concurrent opens cannot slip past the limit.
      const streamsOfUser = perUser.get(principal.userId) ?? 0
      if (streamsOfUser >= options.maxStreamsPerUser) throw new FeedRequestError(429, 'rate_limited', `at most ${options.maxStreamsPerUser} streams per user`)
    } catch (err) {
      subscriptions.end(sub)
      throw err
    }
    if (isAborted()) return subscriptions.end(sub)
    stream.start(sub, onAbort)
    void subscriptions.start(sub, since)
  }

  function createStream(res: uWS.HttpResponse, principal: FeedPrincipal): { sink: SubscriberSink; start(sub: Subscriber, onAbort: (h: () => void) => void): void } {
    let started = false
    let ended = false
    let sub: Subscriber | undefined
    // Bytes written since the socket last took a write whole: an upper bound of what uWS
    // holds for this stream (uWS keeps what the kernel refuses; write() says when).
    let backlog = 0
    const allowance: BufferAllowance = { oversize: 0 }
    let writable: (() => void) | undefined
    // Topics revoked while the stream was being opened: told once it is.
    const revokedEarly: string[] = []
    let heartbeat: NodeJS.Timeout | undefined
    let expiry: NodeJS.Timeout | undefined

    const slowConsumer = (): void => {
      options.log.info({ user: principal.userId }, 'sse stream ended: slow consumer')
      finish(true, SLOW_CONSUMER)
    }
    const write = (text: string): void => {
      if (ended || !started) return
      let ok = true
      res.cork(() => { ok = res.write(text) })
      if (ok) {
        backlog = 0
        return
      }
      const bytes = Buffer.byteLength(text)
      backlog += bytes
      if (overBufferLimit(allowance, options.maxBufferBytes, backlog, bytes)) {
        // Never drop silently: end the stream; the client resumes from its last id (I9).
        slowConsumer()
      }
    }
    const mine = (event: StoredEvent): readonly string[] => (sub === undefined ? [] : subscriptions.topicsFor(sub, event))

    // A stream the server ends for a reason says which in a last `close` message (the
    // WebSocket close code of that reason): an end alone reads as a lost connection, and a
    // client shed for overload would come back at once instead of backing off.
    function finish(endResponse: boolean, close?: StreamClose): void {
      if (ended) return
      ended = true
      if (sub !== undefined) subscriptions.end(sub)
      if (!started) return
      streams.delete(stream)
      clearInterval(heartbeat)
      clearTimeout(expiry)
      const wake = writable
      writable = undefined
      wake?.()
      const left = (perUser.get(principal.userId) ?? 1) - 1
      if (left <= 0) perUser.delete(principal.userId)
      else perUser.set(principal.userId, left)
      if (!endResponse) return
      res.cork(() => {
        if (close !== undefined) res.write(sseControlText('close', { op: 'close', code: close.code, reason: close.reason }))
        res.end()
      })
    }
    const stream: Stream = { end: () => finish(true, SHUTTING_DOWN) }

    const sink: SubscriberSink = {
      deliver: (event, topics) => write(sseEventText(event, topics)),
      send(events, stopAbove) {
        let sent = 0
        for (const event of events) {
          if (ended) break
          const topics = mine(event)
          if (topics.length > 0) write(sseEventText(event, topics))
          if (ended) break
          sent++
          if (backlog > stopAbove) break
        }
        return sent
      },
      fits(events) {
        let bytes = backlog
        for (const event of events) bytes += Buffer.byteLength(sseEventText(event, mine(event)))
        return bytes <= options.maxBufferBytes
      },
      drained: () => (backlog === 0 || ended ? Promise.resolve() : new Promise<void>((resolve) => { writable = resolve })),
      closed: () => ended,
      live(head, again) {
        if (again || sub === undefined) return
        for (const topic of sub.topics) write(sseControlText('subscribed', { op: 'subscribed', topic, head, ...(subscriptions.isConflated(topic) ? { mode: 'conflated' } : {}) }))
      },
      reset: (topic, reason, head) => write(sseControlText('reset', { op: 'reset', topic, reason, head })),
      revoked(topic) {
        if (!started) {
          revokedEarly.push(topic)
          return
        }
        write(sseControlText('unsubscribed', { op: 'unsubscribed', topic, reason: 'revoked' }))
        if (sub !== undefined && sub.topics.size === 0) finish(true)
      },
      failed: (err) => finish(true, isOverloaded(err) ? OVERLOADED : INTERNAL_ERROR),
      stalled: slowConsumer,
    }

    return {
      sink,
      start(subscriber, onAbort) {
        sub = subscriber
        started = true
        streams.add(stream)
        perUser.set(principal.userId, (perUser.get(principal.userId) ?? 0) + 1)
        onAbort(() => finish(false))
        res.onWritable(() => {
          // uWS drains its buffer right after this handler: look again on the next turn.
          setImmediate(() => {
            const resume = writable
            writable = undefined
            resume?.()
          })
          return true
        })
        res.cork(() => {
          res.writeStatus(STATUS_TEXT[200]!)
          res.writeHeader('content-type', 'text/event-stream; charset=utf-8')
          res.writeHeader('cache-control', 'no-cache, no-transform')
          res.writeHeader('x-accel-buffering', 'no')
        })
        // `retry:` tells EventSource clients how soon to reconnect after a clean end.
        write('retry: 1000\n: walcast\n\n')
        heartbeat = setInterval(() => write(': heartbeat\n\n'), options.heartbeatMs)
        expiry = setTimeout(() => finish(true, TOKEN_EXPIRED), Math.min(2 ** 31 - 1, Math.max(0, principal.exp * 1000 - Date.now())))
        for (const topic of revokedEarly) write(sseControlText('unsubscribed', { op: 'unsubscribed', topic, reason: 'revoked' }))
        if (subscriber.topics.size === 0) finish(true)
      },
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
