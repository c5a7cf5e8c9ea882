import { formatEventId, parseEventId, ZERO_ID } from '../event-id.ts'
import { eventFrame } from '../history/event.ts'
import type { HistoryStore } from '../history/store.ts'
import type { Hub } from '../hub/hub.ts'
import { httpError, json, type HttpRequest, type HttpResponse, type HttpRoute } from '../http/route.ts'
import { bearerToken, tokenRefusal, type FeedAuthorizer, type FeedPrincipal, type FeedVerifier } from './access.ts'
import { FeedRequestError, parseQuery, readEventId, readTopics } from './query.ts'
import type { RateLimiter } from './rate-limit.ts'
import { canResumeFrom } from './resume.ts'

export interface EventsRouteOptions {
  readonly history: HistoryStore
  readonly hub: Hub
  readonly verifier: FeedVerifier
  readonly authorizer: FeedAuthorizer
  readonly maxLimit: number
  readonly limiter: RateLimiter
}

const DEFAULT_LIMIT = 100

/**
 * GET /v1/events?topic=T&after=ID&limit=N: one page of a topic's history, for polling and
 * backfill. `limit=0` answers no events and `next` = the current head (start live from
 * there). A short page's `next` is the head as read before the query, so a poller never
 * re-reads an idle topic from far back and never skips an event.
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
        throw err
      }
    },
  }
}

async function page(options: EventsRouteOptions, req: HttpRequest): Promise<HttpResponse> {
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
  if (!(await options.authorizer.canRead(principal, topic))) return httpError(403, 'forbidden', `not allowed to read ${topic}`)

  const head = options.hub.lastId() ?? formatEventId(ZERO_ID)
  const latest = (a: string, b: string | undefined): string => (b !== undefined && b > a ? b : a)
  if (after !== undefined && !(await canResumeFrom(options.history, after))) {
    return json(200, { events: [], next: latest(head, after), reset: true })
  }
  if (limit === 0) return json(200, { events: [], next: latest(head, after), reset: false })
  const events = await options.history.readSince(topic, after === undefined ? ZERO_ID : parseEventId(after), limit)
  const lastRead = events.length > 0 ? events[events.length - 1]!.id : after
  const next = events.length < limit ? latest(head, lastRead) : lastRead!
  return json(200, { events: events.map((event) => eventFrame(event, topic)), next, reset: false })
}

function readLimit(value: string | null, max: number): number {
  if (value === null || value === '') return Math.min(DEFAULT_LIMIT, max)
  if (!/^\d{1,9}$/.test(value)) throw new FeedRequestError(400, 'bad_request', 'limit is a whole number')
  return Math.min(Number(value), max)
}
