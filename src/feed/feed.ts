import type uWS from 'uWebSockets.js'
import type { FeedConfig } from '../config.ts'
import type { Db } from '../db/database.ts'
import type { HttpRoute } from '../http/route.ts'
import type { Logger } from '../log.ts'
import { dashboardRoutes } from '../dashboard/routes.ts'
import { devRoutes } from '../dashboard/dev-routes.ts'
import type { OverviewCatalog } from '../dashboard/overview.ts'
import type { SubscriptionCore } from '../subscription/core.ts'
import type { FeedVerifier } from './access.ts'
import { eventsRoute } from './events-route.ts'
import { createRateLimiter } from './rate-limit.ts'
import { createSseStreams } from './sse-route.ts'

export interface FeedOptions {
  readonly config: FeedConfig
  /** The WebSocket's limits apply to SSE too: buffer, topics per stream, streams per user. */
  readonly limits: { readonly maxBackpressure: number; readonly maxSubscriptions: number; readonly maxConnectionsPerUser: number }
  readonly auth: { readonly secret: string | undefined; readonly issuer: string | undefined; readonly audience: string | undefined }
  /** Mount the dev sign-in routes (embedded default or WALCAST_DEV=1 only). */
  readonly dev: boolean
  readonly db: Db
  /** What the dashboard lists (dev routes). */
  readonly catalog: OverviewCatalog
  readonly subscriptions: SubscriptionCore
  readonly verifier: FeedVerifier
  readonly log: Logger
}

export interface Feed {
  /** Plain routes: polling, dashboard, dev sign-in. */
  readonly routes: readonly HttpRoute[]
  /** Streaming routes on the uWS app (SSE). */
  mount(app: uWS.TemplatedApp): void
  sseStreams(): number
  close(): void
}

/** The HTTP ways in besides the WebSocket: SSE, polling, and the dashboard. */
export function createFeed(options: FeedOptions): Feed {
  let closing = false
  const isClosing = (): boolean => closing
  const sse = createSseStreams({
    subscriptions: options.subscriptions,
    verifier: options.verifier,
    closing: isClosing,
    log: options.log,
    heartbeatMs: options.config.sseHeartbeatMs,
    maxTopics: options.limits.maxSubscriptions,
    maxBufferBytes: options.limits.maxBackpressure,
    maxStreamsPerUser: options.limits.maxConnectionsPerUser,
  })
  const routes: HttpRoute[] = [
    eventsRoute({
      subscriptions: options.subscriptions,
      verifier: options.verifier,
      closing: isClosing,
      maxLimit: options.config.pollMaxLimit,
      limiter: createRateLimiter(options.config.pollRate, options.config.pollBurst),
    }),
    ...dashboardRoutes(),
    ...(options.dev ? devRoutes({ db: options.db, catalog: options.catalog, verifier: options.verifier, ...options.auth, tokenTtlSec: 900 }) : []),
  ]
  return {
    routes,
    mount: (app) => sse.mount(app),
    sseStreams: () => sse.count(),
    close() {
      closing = true
      sse.close()
    },
  }
}
