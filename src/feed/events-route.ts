import { eventFrame } from '../history/event.ts'
import { isOverloaded } from '../subscription/read-gate.ts'
import { httpError, json, type HttpRequest, type HttpResponse, type HttpRoute } from '../http/route.ts'
import type { SubscriptionCore } from '../subscription/core.ts'
import { bearerToken, tokenRefusal, type FeedPrincipal, type FeedVerifier } from './access.ts'
import { FeedRequestError, parseQuery, readEventId, readTopics } from './query.ts'
import type { RateLimiter } from './rate-limit.ts'

export interface EventsRouteOptions {
  readonly subscriptions: SubscriptionCore
  readonly verifier: FeedVerifier
  readonly maxLimit: number
  readonly limiter: RateLimiter
  /** Whether the server is stopping: requests get 503. */
  readonly closing: () => boolean
}

const DEFAULT_LIMIT = 100

/**
 * GET /v1/events?topic=T&after=ID&limit=N: one page of a topic's history, for polling and
 * backfill; the subscription core's polling adapter. `limit=0` answers no events and
 * `next` = the current head (start live from there). A short page's `next` is the head
 * as read before the query, so a poller never re-reads an idle topic from far back and
 * never skips an event. `reset` is false or the reason the stream after `after` cannot
 * be proven complete, exactly as the WebSocket and SSE would say it.
 */
export function eventsRoute(options: EventsRouteOptions): HttpRoute {
  return {
    method: 'get',
    path: '/v1/events',
    async handle(req) {
      try {
        return await page(options, req)
      } catch (err) {
        if (err instanceof FeedRequestError) return httpError(err.status, err.code, err.message)
        if (options.closing()) return httpError(503, 'shutting_down', 'server is shutting down; retry on another instance')
        if (isOverloaded(err)) return httpError(503, 'overloaded', 'server busy; poll again later')
        throw err
      }
    },
  }
}

async function page(options: EventsRouteOptions, req: HttpRequest): Promise<HttpResponse> {
  if (options.closing()) return httpError(503, 'shutting_down', 'server is shutting down; retry on another instance')
  const params = parseQuery(req.query)
  const token = bearerToken(req.header('authorization'))
  if (token === undefined) return httpError(401, 'unauthorized', 'send Authorization: Bearer <token>')
  let principal: FeedPrincipal
  try {
    principal = await options.verifier.verify(token)
  } catch (err) {
    const refusal = tokenRefusal(err)
    return httpError(refusal.status, refusal.code, refusal.message)
  }
  if (params.getAll('topic').length > 1) throw new FeedRequestError(400, 'bad_request', 'exactly one topic per request')
  const topic = readTopics(params, 1)[0]!
  const after = readEventId(params.get('after'), 'after')
  const limit = readLimit(params.get('limit'), options.maxLimit)
  if (!options.limiter.take(principal.userId)) return httpError(429, 'rate_limited', 'too many requests: poll less often')
  if (!(await options.subscriptions.canRead(principal, topic))) return httpError(403, 'forbidden', `not allowed to read ${topic}`)
  const result = await options.subscriptions.page(topic, after, limit)
  return json(200, {
    events: result.events.map((event) => eventFrame(event, topic)),
    next: result.next,
    reset: result.reset !== undefined,
    ...(result.reset === undefined ? {} : { reason: result.reset }),
  })
}

function readLimit(value: string | null, max: number): number {
  if (value === null || value === '') return Math.min(DEFAULT_LIMIT, max)
  if (!/^\d{1,9}$/.test(value)) throw new FeedRequestError(400, 'bad_request', 'limit is a whole number')
  return Math.min(Number(value), max)
}
