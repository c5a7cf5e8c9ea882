import type { Config } from './config.ts'
import type { Logger } from './log.ts'
import { redactUrl } from './log.ts'
import { checkReachable, createDatabase, type Database } from './db/database.ts'
import { startEmbeddedPostgres } from './db/embedded.ts'
import { migrate } from './db/migrate.ts'
import type { Catalog } from './catalog/catalog.ts'
import { loadCatalog } from './catalog/loader.ts'
import { createCatalogRegistry, type CatalogRegistry } from './catalog/registry.ts'
import { ensureCatalogSchema } from './catalog/schema.ts'
import { checkCatalogAgainstDatabase } from './catalog/validate.ts'
import { createHistoryStore, type HistoryStore } from './history/store.ts'
import { startPruner, type Pruner } from './history/prune.ts'
import { createHub, type Hub } from './hub/hub.ts'
import { startIngest, type Ingest } from './ingest/ingest.ts'
import { noIngest } from './ingest/no-ingest.ts'
import { startBus, type Bus } from './bus/bus.ts'
import { checkServerSettings } from './replication/preflight.ts'
import { ensurePublication, syncPublication } from './replication/publication.ts'
import { startHeartbeat } from './replication/heartbeat.ts'
import { startHttpServer, type HttpServer } from './http/server.ts'
import { uwsBuild } from './http/uws.ts'
import type { HttpRoute } from './http/route.ts'
import { healthRoutes } from './observability/health.ts'
import { createFeed, type Feed } from './feed/feed.ts'
import { startDemoWriter } from './demo/writer.ts'
import { seedAfterSlot } from './demo/seed.ts'
import { createMetrics, type Metrics } from './observability/metrics.ts'
import { createWalMonitor } from './observability/wal-monitor.ts'
import { createAuthorizer, type Authorizer } from './auth/authorizer.ts'
import { createTokenVerifier, type TokenVerifier } from './auth/token-verifier.ts'
import { createGateway, type Gateway } from './gateway/gateway.ts'
import { createSubscriptionCore, type SubscriptionCore } from './subscription/core.ts'
import { createFollowSets } from './subscription/follow-sets.ts'
import { catalogConflation } from './subscription/conflation.ts'
import { createReadGate } from './subscription/read-gate.ts'
import { createAccessGate } from './auth/access-checks.ts'
import { readLatestPerKey } from './history/latest-per-key.ts'
import { startLatestPerKeyBackfill, type LatestPerKeyBackfill } from './history/latest-per-key-backfill.ts'
import { conflatedTopics } from './catalog/conflation.ts'
import { DEMO_JWT_SECRET } from './config.ts'
import type { EphemeralHub } from './ephemeral/hub.ts'
import { startEphemeral } from './ephemeral/start.ts'
import { createStopStack } from './stop-stack.ts'

export interface Service {
  readonly config: Config
  readonly database: Database
  /** The ingest's own connection, for its history writes only (docs/operations.md#connections). */
  readonly writer: Database
  readonly connectionString: string
  /** What walcast serves: tables → events → topics → access rules (WALCAST_CATALOG). */
  readonly catalog: Catalog
  readonly registry: CatalogRegistry
  readonly history: HistoryStore
  readonly hub: Hub
  readonly ingest: Ingest
  readonly http: HttpServer
  /** Token verification and topic authorization, shared by every transport. */
  readonly verifier: TokenVerifier
  readonly authorizer: Authorizer
  readonly subscriptions: SubscriptionCore
  readonly gateway: Gateway
  readonly metrics: Metrics
  /** The bus between nodes; undefined on a single node (no WALCAST_REDIS_URL). */
  readonly bus: Bus | undefined
  /** SSE, polling, the dashboard (and its dev sign-in). */
  readonly feed: Feed
  /** Ephemeral messages and presence: live only, never stored (I16). */
  readonly ephemeral: EphemeralHub
  /** The build of newly conflated patterns' state, in the background (I17); `synced` once it committed. */
  readonly latestPerKey: LatestPerKeyBackfill
  /** Graceful: stop reading, finish and acknowledge the in-flight batch, close. */
  stop(): Promise<void>
}

/**
 * The composition root, top to bottom: catalog → database → schema → publication →
 * history → hub → replication ingest → pruning and heartbeats. Transports attach to the hub.
 */
export async function startService(config: Config, log: Logger): Promise<Service> {
  // First: a runtime with no native uWebSockets.js build refuses before anything starts.
  log.debug({ uws: uwsBuild(), node: process.version }, 'native uWebSockets.js build selected')
  // A catalog that cannot load, or is wrong in itself, is refused before any database work.
  const catalog = await loadCatalog(config.catalog)
  // Each stage pushes its stop as soon as it has started: stop() and a start that fails
  // half way run the same list, the last started first (src/stop-stack.ts).
  const stops = createStopStack(log)
  try {
    let connectionString = config.database.url
    if (connectionString === undefined) {
      const embedded = await startEmbeddedPostgres(config.embedded, log.child({ module: 'embedded' }))
      stops.push('embedded postgres', () => embedded.stop())
      connectionString = embedded.url
    }
    const database = createDatabase({ url: connectionString, poolSize: config.database.poolSize })
    stops.push('database', () => database.close())
    // Appends and gaps never queue behind replays, authorization and the pruner: in a
    // reconnect storm a queued append timed out, failed the batch and dropped replication,
    // which grew the backlog the storm was replaying. The batcher writes one batch at a time.
    const writer = createDatabase({ url: connectionString, poolSize: 1, applicationName: 'walcast-writer' })
    stops.push('writer', () => writer.close())
    await checkReachable(database.pool, redactUrl(connectionString))
    await checkServerSettings(database.db)
    const migrations = await migrate(database.db)
    if (migrations.applied.length > 0) log.info({ applied: migrations.applied }, 'applied migrations')

    const schema = await ensureCatalogSchema(database.db, catalog)
    if (schema === 'applied') log.info({ catalog: catalog.name }, 'applied the catalog schema')
    await checkCatalogAgainstDatabase(database.db, catalog)
    const registry = createCatalogRegistry(catalog)
    // The embedded demo's publication is walcast's own: it follows a change of WALCAST_CATALOG.
    if (config.demo) await syncPublication(database.db, config.replication.publication, registry.tables)
    else await ensurePublication(database.db, config.replication.publication, registry.tables, log.child({ module: 'publication' }))

    // A conflated topic's state is served and pruned by walcast.latest_per_key: built from
    // the history for a pattern newly conflated, in the background (a long history must not
    // keep the node from serving), its state reads waiting for it and the pruner starting
    // after it (I17).
    const conflated = conflatedTopics(catalog)
    const states = await startLatestPerKeyBackfill(database.db, conflated, { maxWaitMs: config.database.replayWaitMs, log: log.child({ module: 'history' }) })
    stops.push('latest-per-key backfill', () => states.stop())
    const history = createHistoryStore(database.db, conflated)
    const hub = createHub({ windowSize: config.hub.windowEvents, windowBytes: config.hub.windowBytes, log: log.child({ module: 'hub' }) })
    // The authorizer subscribes to the hub before the subscription core: it must see a
    // revoking event (party_left) before the core delivers the batch that carries it.
    const verifier = createTokenVerifier(config.auth)
    // Access checks take turns of their own: a storm of them queues in walcast, bounded,
    // not in the pool, whose bounded wait failed them with 1011.
    const accessChecks = createAccessGate({ concurrency: config.database.accessChecks, maxWaitMs: config.database.accessCheckWaitMs })
    const authorizer = createAuthorizer(database.db, hub, catalog, { checks: accessChecks })
    stops.push('authorizer', () => authorizer.close())
    // One core for every transport: access, resume, replay, live, revocation, resets.
    const subscriptions = createSubscriptionCore({
      hub, history, authorizer, log: log.child({ module: 'subscriptions' }), follows: createFollowSets(database.db, catalog, accessChecks),
      conflation: catalogConflation(catalog, config.hub.conflateMs, (topic, after, limit) => readLatestPerKey(database.db, topic, after, limit), (topic) => states.ready(topic)),
      pageSize: config.gateway.replayPage, drainLevel: Math.floor(config.gateway.maxBackpressure / 4),
      // Half the WebSocket's idle limit, for every transport: a client that takes nothing that
      // long is gone. uWS drops a peer that answers no ping by the idle limit (a close the
      // client cannot tell from a lost network); a stalled reader is closed first with 4008.
      stallMs: config.gateway.idleTimeoutSec * 500,
      // A resume storm queues here, not in the pool, whose bounded wait failed reads with 1011.
      reads: createReadGate({ concurrency: config.database.replayReads, maxWaitMs: config.database.replayWaitMs }),
    })
    stops.push('subscriptions', () => subscriptions.close())
    // Typing indicators and presence: beside the event path, never on it (I16).
    const ephemeral = await startEphemeral(config.ephemeral, config.bus, catalog, log.child({ module: 'ephemeral' }))
    stops.push('ephemeral', () => ephemeral.stop())
    const gateway = createGateway({ config: config.gateway, subscriptions, verifier, log: log.child({ module: 'gateway' }), ephemeral })
    stops.push('gateway', () => gateway.close())
    if (config.auth.secret === DEMO_JWT_SECRET) log.warn('accepting tokens signed with the published demo secret (embedded demo mode); set WALCAST_JWT_SECRET or WALCAST_JWKS_URL')
    if (config.auth.secret === undefined && config.auth.jwksUrl === undefined) log.warn('no JWT key configured: every WebSocket upgrade is refused; set WALCAST_JWT_SECRET or WALCAST_JWKS_URL')
    // The same verifier, authorizer and limits for SSE and polling as for the WebSocket.
    const feed = createFeed({
      config: config.feed,
      limits: config.gateway,
      auth: config.auth,
      dev: config.demo || config.feed.dev,
      db: database.db,
      catalog,
      subscriptions,
      verifier,
      log: log.child({ module: 'feed' }),
    })
    stops.push('feed', () => feed.close())
    const walMonitor = createWalMonitor(database.db, {
      slot: config.replication.slot, warnBytes: config.observability.walWarnBytes, intervalMs: config.observability.walCheckIntervalMs,
    }, log.child({ module: 'wal' }))
    stops.push('wal monitor', () => walMonitor.stop())
    // Several nodes: the bus feeds this hub whenever this node's ingest does not, and
    // carries what the ingest publishes to the others. Redis must answer now. Started
    // after every hub listener above, so none misses what the bus delivers first.
    const redisUrl = config.bus.redisUrl
    const bus = redisUrl === undefined ? undefined : await startBus({ ...config.bus, redisUrl }, { hub, history, log: log.child({ module: 'bus' }) })
    if (bus !== undefined) stops.push('bus', () => bus.stop())
    const metrics = createMetrics({
      db: database.db, hub, ingestStatus: () => ingest.status(), walMonitor,
      walWarnBytes: config.observability.walWarnBytes, slot: config.replication.slot, gatewayStats: () => gateway.stats(),
      busStats: bus?.stats,
    })
    stops.push('metrics', () => metrics.stop())
    // Pruning keeps what latest_per_key names: not before it holds every conflated pattern,
    // and never once stopping began (a start that failed before the state synced). Set up
    // before the ingest so that a stop releases the slot before it waits for a prune run.
    let pruner: Pruner | undefined
    void states.synced.then(() => {
      if (!stops.stopping) pruner = startPruner(database.db, config.history, log.child({ module: 'prune' }), (result) => metrics.recordPrune(result))
    })
    stops.push('pruner', () => pruner?.stop())
    const ingest = config.bus.role === 'gateway' ? noIngest() : await startIngest({
      database,
      connectionString,
      config: config.replication,
      registry,
      history: createHistoryStore(writer.db, conflated),
      hub: bus?.ingestHub ?? hub,
      log: log.child({ module: 'ingest' }),
      onBatch: (stats) => metrics.observeBatch(stats),
    })
    stops.push('ingest', () => ingest.stop())
    // After the ingest made its slot: a seed before it would never reach the history.
    const demoSeed = config.demo ? catalog.demo : undefined
    if (demoSeed !== undefined) {
      if (config.bus.role === 'gateway') await demoSeed.seed(database.db, log.child({ module: 'demo' }))
      else await seedAfterSlot(database.db, config.replication.slot, demoSeed, log.child({ module: 'demo' }))
    }
    const heartbeat = startHeartbeat(database.db, config.replication.heartbeatMs, log.child({ module: 'heartbeat' }))
    stops.push('heartbeat', () => heartbeat.stop())
    walMonitor.start()

    // Plain HTTP routes contributed by each stage; transports mount themselves on http.app.
    const routes: HttpRoute[] = [
      ...healthRoutes({ db: database.db, ingestStatus: () => ingest.status(), busStats: bus?.stats, building: () => states.building() }),
      metrics.route,
      ...feed.routes,
    ]
    const http = await startHttpServer(config.http, routes, log.child({ module: 'http' }), (app) => {
      gateway.mount(app)
      feed.mount(app)
    })
    // A graceful stop begins here, before the ingest finishes its in-flight batch: accept
    // nothing more, send every client elsewhere, deliver nothing more, and cancel a state
    // build in progress (its rows would hold up that batch's latest_per_key upserts). Each
    // close is idempotent and also pushed where its stage started, for a start that fails
    // before this line.
    stops.push('serving', async () => {
      http.close()
      gateway.close()
      feed.close()
      subscriptions.close()
      await states.stop()
    })
    const demo = config.demo ? catalog.demo : undefined
    const demoWriter = demo === undefined ? undefined : startDemoWriter(database.db, log.child({ module: 'demo' }), 3000, demo)
    if (demoWriter !== undefined) {
      stops.push('demo writer', () => demoWriter.stop())
      log.info({ dashboard: `http://${config.http.host}:${http.port}/` }, `dashboard: http://${config.http.host}:${http.port}/${demo?.signIn === undefined ? '' : ` (${demo.signIn})`}`)
    }

    let stopped: Promise<void> | undefined
    const stop = (): Promise<void> => (stopped ??= stops.run().then(() => log.info('walcast stopped')))
    return { config, database, writer, connectionString, catalog, registry, history, hub, ingest, http, verifier, authorizer, subscriptions, gateway, metrics, bus, feed, ephemeral, latestPerKey: states, stop }
  } catch (err) {
    // Whatever started is stopped before the caller hears of the failure: a half-started
    // node must not hold the replication slot, a connection or a timer (a library caller's
    // process would not exit, and a standby could not take the slot over).
    await stops.run().catch(() => {})
    throw err
  }
}
