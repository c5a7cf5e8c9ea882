import type { ClientErrorCode } from '../protocol/error-codes.ts'

/**
 * A plain HTTP route any stage can contribute (health, metrics, polling, dev tokens…);
 * the HTTP server mounts them on the uWebSockets.js app. Handlers never touch uWS
 * objects, so they stay testable and the server keeps every cork/abort rule in one place.
 */
export interface HttpRequest {
  readonly method: string
  readonly path: string
  /** Raw query string without `?`. */
  readonly query: string
  /** Lower-case header names. */
  header(name: string): string
}

export interface HttpResponse {
  readonly status: number
  readonly headers?: Readonly<Record<string, string>>
  readonly body: string | Uint8Array
}

export interface HttpRoute {
  readonly method: 'get' | 'post' | 'any'
  /** uWS pattern, e.g. `/v1/events` or `/static/*`. */
  readonly path: string
  handle(req: HttpRequest): Promise<HttpResponse> | HttpResponse
}

export const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: '200 OK', 204: '204 No Content', 301: '301 Moved Permanently', 304: '304 Not Modified',
  400: '400 Bad Request', 401: '401 Unauthorized', 403: '403 Forbidden', 404: '404 Not Found',
  405: '405 Method Not Allowed', 413: '413 Payload Too Large', 429: '429 Too Many Requests',
  500: '500 Internal Server Error', 503: '503 Service Unavailable',
}

export function json(status: number, value: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(value) }
}

/** The one error body shape of every HTTP endpoint: {"error":{"code","message"}}. */
export function httpError(status: number, code: ClientErrorCode, message: string): HttpResponse {
  return json(status, { error: { code, message } })
}
