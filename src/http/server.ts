import type uWS from 'uWebSockets.js'
import { nativeUws } from './uws.ts'
import type { Logger } from '../log.ts'
import { redactUrl } from '../log.ts'
import { StartupError } from '../errors.ts'
import { STATUS_TEXT, httpError, type HttpRequest, type HttpResponse, type HttpRoute } from './route.ts'

export interface HttpServerOptions {
  readonly host: string
  readonly port: number
}

export interface HttpServer {
  /** The uWS app, for transports that add WebSocket behaviour or streaming routes. */
  readonly app: uWS.TemplatedApp
  /** The bound port (useful with port 0). */
  readonly port: number
  /** Stops accepting connections; open sockets are the transports' to close. */
  close(): void
}

/**
 * Creates the uWS app, mounts the plain routes, and listens. A route that throws gets a
 * JSON 500 and a log line; nothing a client sends can crash the process. Once closing,
 * a request on a connection still open gets 503 `shutting_down`, and so does one whose
 * handler fails meanwhile (the database is going away): that is no error to log.
 */
export async function startHttpServer(options: HttpServerOptions, routes: readonly HttpRoute[], log: Logger, configure?: (app: uWS.TemplatedApp) => void): Promise<HttpServer> {
  const uws = nativeUws()
  const app = uws.App()
  configure?.(app)
  let closed = false
  const isClosed = (): boolean => closed
  for (const route of routes) mountRoute(app, route, log, isClosed)
  app.any('/*', (res) => {
    res.cork(() => writeResponse(res, httpError(404, 'not_found', 'no such endpoint')))
  })
  const listenSocket = await new Promise<uWS.us_listen_socket>((resolve, reject) => {
    app.listen(options.host, options.port, (socket) => {
      if (socket) resolve(socket)
      else {
        reject(new StartupError('HTTP_LISTEN_FAILED', `cannot listen on ${options.host}:${options.port}: is the port in use?`, {
          hint: 'set WALCAST_PORT to a free port (0: any), or stop the process that holds it; WALCAST_HOST must be an address of this machine',
        }))
      }
    })
  })
  const port = uws.us_socket_local_port(listenSocket)
  log.info({ host: options.host, port }, 'http listening')
  return {
    app,
    port,
    close() {
      if (closed) return
      closed = true
      uws.us_listen_socket_close(listenSocket)
    },
  }
}

const SHUTTING_DOWN = (): HttpResponse => httpError(503, 'shutting_down', 'server is shutting down; retry on another instance')

function mountRoute(app: uWS.TemplatedApp, route: HttpRoute, log: Logger, closing: () => boolean): void {
  app[route.method](route.path, (res, req) => {
    let aborted = false
    res.onAborted(() => { aborted = true })
    // uWS request objects die when this callback returns: copy what handlers may need.
    const headers = new Map<string, string>()
    req.forEach((key, value) => headers.set(key, value))
    const request: HttpRequest = {
      method: req.getMethod(),
      path: req.getUrl(),
      query: req.getQuery() ?? '',
      header: (name) => headers.get(name.toLowerCase()) ?? '',
    }
    Promise.resolve()
      .then(() => (closing() ? SHUTTING_DOWN() : route.handle(request)))
      .catch((err: unknown) => {
        if (closing()) return SHUTTING_DOWN()
        log.error({ err, path: redactUrl(request.path) }, 'http handler failed')
        return httpError(500, 'internal', 'internal error')
      })
      .then((response) => {
        if (!aborted) res.cork(() => writeResponse(res, response))
      })
  })
}

export function writeResponse(res: uWS.HttpResponse, response: HttpResponse): void {
  res.writeStatus(STATUS_TEXT[response.status] ?? `${response.status}`)
  for (const [name, value] of Object.entries(response.headers ?? {})) res.writeHeader(name, value)
  res.end(response.body)
}
