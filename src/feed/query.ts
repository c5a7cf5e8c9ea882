import { isEventId } from '../event-id.ts'
import type { ClientErrorCode } from '../protocol/error-codes.ts'

export const MAX_QUERY_BYTES = 16 * 1024
export const MAX_TOPIC_LENGTH = 256

/** A request refusal: status, stable code and a message that says what to fix. */
export class FeedRequestError extends Error {
  constructor(readonly status: number, readonly code: ClientErrorCode, message: string) {
    super(message)
    this.name = 'FeedRequestError'
  }
}

export function parseQuery(query: string): URLSearchParams {
  if (query.length > MAX_QUERY_BYTES) throw new FeedRequestError(413, 'payload_too_large', `query string over ${MAX_QUERY_BYTES} bytes`)
  return new URLSearchParams(query)
}

export function readTopics(params: URLSearchParams, max: number): string[] {
  const topics = [...new Set(params.getAll('topic'))]
  if (topics.length === 0) throw new FeedRequestError(400, 'bad_request', 'at least one topic parameter is required, e.g. ?topic=escrow:1')
  if (topics.length > max) throw new FeedRequestError(413, 'too_many_subscriptions', `at most ${max} topics per request`)
  for (const topic of topics) {
    if (topic === '' || topic.length > MAX_TOPIC_LENGTH) throw new FeedRequestError(400, 'bad_request', `a topic is 1 to ${MAX_TOPIC_LENGTH} characters`)
  }
  return topics
}

export function readEventId(value: string | null | undefined, name: string): string | undefined {
  if (value === null || value === undefined || value === '') return undefined
  if (!isEventId(value)) throw new FeedRequestError(400, 'bad_request', `${name} is not an event id (send back an id exactly as received)`)
  return value
}
