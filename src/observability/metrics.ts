import { monitorEventLoopDelay } from 'node:perf_hooks'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { sql } from 'kysely'
import type { Db } from '../db/database.ts'
import type { Hub } from '../hub/hub.ts'
import type { BatchStats } from '../ingest/batcher.ts'
import type { IngestStatus } from '../ingest/ingest.ts'
import type { PruneResult } from '../history/prune.ts'
import type { HttpRoute } from '../http/route.ts'
import { registerGatewayMetrics, type GatewayStatsSource } from './gateway-metrics.ts'
import { registerBusMetrics } from './bus-metrics.ts'
import type { BusStats } from '../bus/bus.ts'
import type { WalMonitor, WalSample } from './wal-monitor.ts'

export interface MetricsDeps {
  readonly db: Db
  readonly hub: Hub
  readonly ingestStatus: () => IngestStatus
  readonly walMonitor: WalMonitor
  readonly walWarnBytes: number
  readonly slot: string
  readonly gatewayStats: GatewayStatsSource
  /** Present with several nodes (WALCAST_REDIS_URL). */
  readonly busStats?: () => BusStats
}

export interface Metrics {
  /** walcast's own registry: nothing else in the process can add series to it. */
  readonly registry: Registry
  /** The `onBatch` hook of the ingest. */
  observeBatch(stats: BatchStats): void
  /** The `onPruned` hook of the pruner. */
  recordPrune(result: PruneResult): void
  readonly route: HttpRoute
  stop(): void
}

interface DbSample {
  readonly wal: WalSample
  readonly historyRows: number
  readonly historyBytes: number
}

/** Scrapes read the database once however many series need it. */
const SAMPLE_REUSE_MS = 500

export function createMetrics(deps: MetricsDeps): Metrics {
  const registry = new Registry()
  const slot = deps.slot
  const registers = [registry]
  // The process's own figures (RSS, heap, open fds, GC): what a soak or an operator
  // watches for a leak (load/node/soak/).
  collectDefaultMetrics({ register: registry })

  const ingested = new Counter({ name: 'walcast_events_ingested_total', help: 'Events made durable in the history, by type.', labelNames: ['type'], registers })
  const batchSeconds = new Histogram({
    name: 'walcast_ingest_batch_duration_seconds', help: 'Time to write, publish and acknowledge one ingest batch.', registers,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  })
  const batchEvents = new Histogram({
    name: 'walcast_ingest_batch_events', help: 'Events per ingest batch.', registers,
    buckets: [0, 1, 10, 100, 1000, 5000, 20000],
  })
  const commitToPublish = new Histogram({
    name: 'walcast_commit_to_publish_seconds', help: 'From the source transaction commit to the event being published (durable).', registers,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  })
  // The series without labels, taken once: observe() made a closure per event to find it.
  const commitAge = commitToPublish.labels()
  const prunedEvents = new Counter({ name: 'walcast_history_pruned_events_total', help: 'Events deleted by retention.', registers })
  const pruneRuns = new Counter({ name: 'walcast_history_prune_runs_total', help: 'Completed prune runs.', registers })

  deps.hub.subscribe((events) => {
    const now = Date.now()
    // With several nodes the hub of a node that does not ingest is fed by the bus: its
    // events were ingested elsewhere, but their commit-to-publish time is this node's.
    const ingesting = deps.ingestStatus().state === 'streaming'
    // Counted per type once per batch, and the commit time parsed once per transaction:
    // per event, these were about a tenth of walcast's CPU in a live-phase profile.
    const byType = new Map<string, number>()
    let ts = ''
    let age = 0
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!
      if (ingesting) byType.set(event.type, (byType.get(event.type) ?? 0) + 1)
      if (event.ts !== ts) {
        ts = event.ts
        age = Math.max(0, now - Date.parse(ts)) / 1000
      }
      commitAge.observe(age)
    }
    for (const [type, n] of byType) ingested.inc({ type }, n)
  })

  let cached: { at: number; sample: Promise<DbSample> } | undefined
  const dbSample = (): Promise<DbSample> => {
    if (cached === undefined || Date.now() - cached.at > SAMPLE_REUSE_MS) {
      cached = { at: Date.now(), sample: readDbSample(deps) }
    }
    return cached.sample
  }
  // A database that cannot be read must not fail the whole scrape: those series go
  // missing and walcast_database_up says why.
  const fromDb = async (apply: (sample: DbSample) => void): Promise<void> => {
    try {
      apply(await dbSample())
      databaseUp.set(1)
    } catch {
      databaseUp.set(0)
    }
  }

  const databaseUp = new Gauge({
    name: 'walcast_database_up', help: '1 when this scrape could query Postgres.', registers,
    collect: async () => { await fromDb(() => {}) },
  })
  new Gauge({
    name: 'walcast_replication_streaming', help: '1 while the replication stream is connected and streaming.', registers,
    collect() { this.set(deps.ingestStatus().state === 'streaming' ? 1 : 0) },
  })
  new Gauge({
    name: 'walcast_replication_lag_bytes', help: 'WAL written since the position walcast confirmed as durable.', labelNames: ['slot'], registers,
    collect: async function (this: Gauge) { this.reset(); await fromDb((s) => setIf(this, slot, s.wal.slot?.lagBytes)) },
  })
  new Gauge({
    name: 'walcast_replication_lag_seconds', help: "Postgres' flush_lag for walcast's walsender (0 when caught up).", labelNames: ['slot'], registers,
    collect: async function (this: Gauge) { this.reset(); await fromDb((s) => setIf(this, slot, s.wal.lagSeconds)) },
  })
  new Gauge({
    name: 'walcast_slot_retained_wal_bytes', help: 'WAL the server keeps for the slot (pg_current_wal_lsn() - restart_lsn).', labelNames: ['slot'], registers,
    collect: async function (this: Gauge) { this.reset(); await fromDb((s) => setIf(this, slot, s.wal.slot?.retainedBytes)) },
  })
  new Gauge({
    name: 'walcast_slot_retained_wal_over_threshold', help: '1 when retained WAL passes WALCAST_WAL_WARN_BYTES.', registers,
    collect: async function (this: Gauge) { await fromDb((s) => this.set(s.wal.overThreshold ? 1 : 0)) },
  })
  new Gauge({
    name: 'walcast_slot_retained_wal_warn_bytes', help: 'The WALCAST_WAL_WARN_BYTES threshold.', registers,
    collect() { this.set(deps.walWarnBytes) },
  })
  new Gauge({
    name: 'walcast_history_rows', help: 'Events in the history (estimated from statistics once large).', registers,
    collect: async function (this: Gauge) { await fromDb((s) => this.set(s.historyRows)) },
  })
  new Gauge({
    name: 'walcast_history_bytes', help: 'Disk used by the history tables and their indexes.', registers,
    collect: async function (this: Gauge) { await fromDb((s) => this.set(s.historyBytes)) },
  })

  const loopDelay = monitorEventLoopDelay({ resolution: 10 })
  loopDelay.enable()
  new Gauge({
    name: 'walcast_event_loop_delay_seconds', help: 'Event-loop delay since the previous scrape.', labelNames: ['quantile'], registers,
    collect() {
      this.set({ quantile: '0.5' }, loopDelay.percentile(50) / 1e9)
      this.set({ quantile: '0.99' }, loopDelay.percentile(99) / 1e9)
      this.set({ quantile: '1' }, loopDelay.max / 1e9)
      loopDelay.reset()
    },
  })

  registerGatewayMetrics(registry, deps.gatewayStats)
  if (deps.busStats !== undefined) registerBusMetrics(registry, deps.busStats)

  return {
    registry,
    observeBatch(stats) {
      batchSeconds.observe(stats.durationMs / 1000)
      batchEvents.observe(stats.events)
    },
    recordPrune(result) {
      pruneRuns.inc()
      prunedEvents.inc(result.deleted)
    },
    route: {
      method: 'get',
      path: '/metrics',
      async handle() {
        return { status: 200, headers: { 'content-type': registry.contentType }, body: await registry.metrics() }
      },
    },
    stop() {
      loopDelay.disable()
    },
  }
}

/** An unknown figure is left out (labelled series can be absent), never reported as 0. */
function setIf(gauge: Gauge, slot: string, value: number | null | undefined): void {
  if (value !== null && value !== undefined) gauge.set({ slot }, value)
}

async function readDbSample(deps: MetricsDeps): Promise<DbSample> {
  const wal = await deps.walMonitor.sample()
  // count(*) on a big history is a scan: past 100k rows the planner's estimate will do.
  const history = await sql<{ rows: string; bytes: string }>`
    SELECT CASE WHEN c.reltuples > 100000 THEN c.reltuples::bigint ELSE (SELECT count(*) FROM walcast.events) END::text AS rows,
           (pg_total_relation_size('walcast.events') + pg_total_relation_size('walcast.event_topics'))::text AS bytes
    FROM pg_class c WHERE c.oid = 'walcast.events'::regclass`.execute(deps.db)
  const row = history.rows[0]!
  return { wal, historyRows: Number(row.rows), historyBytes: Number(row.bytes) }
}
