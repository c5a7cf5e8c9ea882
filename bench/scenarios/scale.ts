/**
 * Scale-out over Redis (docs/scaling.md): one ingesting walcast node and gateway nodes
 * (`WALCAST_ROLE=gateway`) on one Redis, clients spread over them by the load generator.
 * Reported, not asserted: deliveries/s and server CPU per delivery with 1, 2 and 3 nodes;
 * commit→client latency of clients on the ingesting node against clients on a gateway in
 * the same phase (what the bus adds); and Postgres reads during a reconnect storm.
 */
import pg from 'pg'
import { formatEventId, formatLsn, parseEventId, parseLsn } from '../../src/event-id.ts'
import type { ClientSpec } from '../lib/clients.ts'
import type { Percentiles } from '../lib/latencies.ts'
import { cpuMeter, hostCpuMeter, startWalcastProcess, type WalcastProcess } from '../lib/processes.ts'
import { findRedisServer, startBenchRedis, type BenchRedis } from '../lib/redis.ts'
import { HOT_ESCROW, seedPopulation, spreadEscrowOf, spreadEscrows } from '../lib/seed.ts'
import { BENCH_JWT_SECRET } from '../lib/token.ts'
import { currentAmounts, startWriter } from '../lib/writer.ts'
import { drain, topicMap } from './clients.ts'
import { round, sleep, waitUntil, type BenchContext } from './context.ts'

export interface ScaleStep {
  /** walcast processes serving clients: the ingesting one, then gateways. */
  readonly nodes: number
  readonly subscribers: number
  readonly eventsPerSecond: number
  readonly events: number
  readonly offeredDeliveries: number
  readonly deliveries: number
  readonly deliveriesPerSecond: number
  readonly missing: number
  readonly duplicates: number
  /** CPU time of every walcast node and of Redis over the phase / frames delivered. */
  readonly serverMicrosPerDelivery: number
  /**
   * Percent of one core over the phase: each walcast node (ingesting first), Redis, the
   * load generator; `host`: percent of all the host's cores busy (other work included).
   */
  readonly cpu: { readonly nodes: readonly number[]; readonly redis: number; readonly generator: number; readonly host?: number }
  /** Commit→client: clients on the ingesting node; clients on gateway nodes (absent with one node). */
  readonly latency: { readonly ingest: Percentiles; readonly gateway?: Percentiles }
  /** Per event: first arrival at a gateway's client − first arrival at an ingesting node's client (ms). */
  readonly busDelta?: Percentiles
}

export interface StormReads {
  /** `pg_stat_statements` (per statement, this database only) or `pg_stat_database` (whole database: transactions and rows). */
  readonly method: 'pg_stat_statements' | 'pg_stat_database'
  /** SELECTs on the history's event tables: calls and rows returned (pg_stat_statements only). */
  readonly eventReads?: { readonly calls: number; readonly rows: number }
  /** Every other statement: per-subscribe checks (horizon, gaps, membership). With pg_stat_database: committed transactions and rows returned. */
  readonly other: { readonly calls: number; readonly rows: number }
}

export interface ScaleStorm {
  readonly clients: number
  readonly nodes: number
  /** Events each client missed on its topic while away. */
  readonly missedPerClient: number
  readonly expected: number
  readonly delivered: number
  readonly lost: number
  readonly duplicates: number
  readonly resets: number
  /** From the first subscribe to the last missed event received. */
  readonly caughtUpMs: number | undefined
  readonly reads: StormReads
}

export type ScaleResult = { readonly notMeasured: string } | { readonly steps: readonly ScaleStep[]; readonly storm?: ScaleStorm; readonly redisVersion?: string }

const NODE_COUNTS = [1, 2, 3] as const

export async function measureScale(context: BenchContext): Promise<ScaleResult> {
  const settings = context.profile.scale
  if (settings === undefined) return { notMeasured: `not in the ${context.profile.name} profile (run \`npm run bench -- --quick --only scale\`)` }
  const binary = findRedisServer()
  if (binary === undefined) return { notMeasured: 'no redis-server (install Debian\'s `redis-server` package, or set REDIS_SERVER_BIN)' }
  const { postgres, profile, suffix } = context
  const databaseName = `bench_scale_${suffix}`
  const databaseUrl = await postgres.createDatabase(databaseName)
  await seedPopulation(databaseUrl, profile.population)
  const redis = await startBenchRedis(binary)
  const nodes: WalcastProcess[] = []
  const env = {
    DATABASE_URL: databaseUrl, WALCAST_JWT_SECRET: BENCH_JWT_SECRET, WALCAST_SLOT: `bench_scale_${suffix}`,
    WALCAST_REDIS_URL: redis.url, NODE_OPTIONS: '--max-old-space-size=4096',
  }
  try {
    const steps: ScaleStep[] = []
    for (const count of NODE_COUNTS) {
      // Gateways join step by step: an idle follower's CPU is not charged to fewer nodes.
      while (nodes.length < count) nodes.push(await startWalcastProcess(nodes.length === 0 ? env : { ...env, WALCAST_ROLE: 'gateway' }))
      await sleep(profile.settleMs)
      steps.push(await measureStep(context, nodes, redis, databaseUrl))
    }
    const storm = await measureStorm(context, nodes, databaseUrl, databaseName)
    return { steps, storm }
  } finally {
    await context.generator.closeClients().catch(() => {})
    for (const node of nodes.reverse()) await node.stop().catch(() => {})
    await redis.stop().catch(() => {})
    await postgres.dropDatabase(databaseName).catch(() => {})
  }
}

const clientUrl = (node: WalcastProcess): string => `ws://127.0.0.1:${node.port}/v1/ws`

/** One hot topic, subscribers round robin over the nodes, a paced writer. */
async function measureStep(context: BenchContext, nodes: readonly WalcastProcess[], redis: BenchRedis, databaseUrl: string): Promise<ScaleStep> {
  const { subscribers, eventsPerSecond, seconds } = context.profile.scale!
  const clients: ClientSpec[] = Array.from({ length: subscribers }, (_, i) => ({
    user: i + 1, topics: [`escrow:${HOT_ESCROW}`], url: clientUrl(nodes[i % nodes.length]!), group: i % nodes.length === 0 ? 'ingest' : 'gateway',
  }))
  const compareGroups = nodes.length > 1 ? { compareGroups: ['ingest', 'gateway'] as const } : {}
  const opened = await context.generator.open({ kind: 'walcast', url: clientUrl(nodes[0]!), secret: BENCH_JWT_SECRET, clients, ...compareGroups }, 120_000)
  if (opened.connected < clients.length) throw new Error(`scale, ${nodes.length} nodes: only ${opened.connected} of ${clients.length} clients connected`)
  await context.generator.resetStats()
  const pids: Record<string, number> = { redis: redis.pid, generator: context.generator.pid }
  nodes.forEach((node, i) => { pids[`node${i}`] = node.pid })
  const meter = cpuMeter(pids)
  const host = hostCpuMeter()
  const t0 = performance.now()
  const writer = await startWriter({ url: databaseUrl, escrows: [HOT_ESCROW], rowsPerTransaction: 1, eventsPerSecond, durationMs: seconds * 1000 })
  const written = await writer.done
  const stats = await drain(context, written.events * subscribers)
  const cpu = meter.stop()
  const hostCpu = host.stop()
  const elapsed = (performance.now() - t0) / 1000
  const nodeCpu = nodes.map((_, i) => cpu[`node${i}`]!)
  const serverCpuSeconds = ((nodeCpu.reduce((a, b) => a + b, 0) + cpu.redis!) / 100) * elapsed
  const active = ((stats.lastEventAt ?? 0) - (stats.firstEventAt ?? 0)) / 1000
  const step: ScaleStep = {
    nodes: nodes.length, subscribers, eventsPerSecond, events: written.events, offeredDeliveries: written.events * subscribers,
    deliveries: stats.received, deliveriesPerSecond: Math.round(stats.received / Math.max(active, 0.001)),
    missing: stats.missing, duplicates: stats.duplicates,
    serverMicrosPerDelivery: round((serverCpuSeconds * 1e6) / Math.max(1, stats.received), 2),
    cpu: { nodes: nodeCpu, redis: cpu.redis!, generator: cpu.generator!, host: hostCpu },
    latency: {
      ingest: stats.groups.ingest?.latency ?? stats.latency,
      ...(stats.groups.gateway === undefined ? {} : { gateway: stats.groups.gateway.latency }),
    },
    ...(stats.groupDelta === undefined ? {} : { busDelta: stats.groupDelta }),
  }
  context.log(`scale ${nodes.length} node(s): ${step.deliveriesPerSecond} deliveries/s, ${step.serverMicrosPerDelivery} µs server CPU/delivery, nodes ${nodeCpu.join('/')}% redis ${cpu.redis}% gen ${cpu.generator}% host ${hostCpu}%; p50/p99 ingest ${step.latency.ingest.p50}/${step.latency.ingest.p99} ms${step.latency.gateway === undefined ? '' : `, gateway ${step.latency.gateway.p50}/${step.latency.gateway.p99} ms`}${step.busDelta === undefined ? '' : `; bus per event p50/p99 ${step.busDelta.p50}/${step.busDelta.p99} ms`}`)
  await context.generator.closeClients()
  await sleep(300)
  return step
}

/**
 * Every client goes away, misses `missedPerTopic` events of its topic, then all come back
 * at once with `since`, spread over the nodes. Counts what the nodes read from Postgres
 * meanwhile: the missed events are in each node's window (the bus fed it), so a resume
 * should cost the per-subscribe checks and no page of events.
 */
async function measureStorm(context: BenchContext, nodes: readonly WalcastProcess[], databaseUrl: string, databaseName: string): Promise<ScaleStorm> {
  const { stormClients, missedPerTopic } = context.profile.scale!
  const population = context.profile.population
  const escrows = spreadEscrows(population)
  const since = await historyHead(databaseUrl)
  const start = topicMap(await currentAmounts(databaseUrl), escrows)
  const writer = await startWriter({ url: databaseUrl, escrows, rowsPerTransaction: 10, eventsPerSecond: 0, durationMs: 120_000, maxEvents: missedPerTopic * escrows.length })
  const written = await writer.done
  await waitUntil(async () => (await historyCountAfter(databaseUrl, since)) >= written.events ? true : undefined, 60_000, 100)
  // The followers read the stream within milliseconds; leave them time to take the last entries.
  await sleep(context.profile.settleMs)
  const final = topicMap(written.lastAmount as Map<number, number>, escrows)
  const clients: ClientSpec[] = Array.from({ length: stormClients }, (_, i) => {
    const user = (i % population.users) + 1
    return { user, topics: [`escrow:${spreadEscrowOf(user, population)}`], url: clientUrl(nodes[i % nodes.length]!) }
  })
  let expected = 0
  for (const client of clients) for (const topic of client.topics) expected += (final[topic] ?? 0) - (start[topic] ?? 0)
  const reads = await readCounter(databaseUrl, databaseName)
  const t0 = Date.now()
  // Every client at once (one connect worker per client): the storm.
  await context.generator.open({ kind: 'walcast', url: clientUrl(nodes[0]!), secret: BENCH_JWT_SECRET, clients, since, connectConcurrency: stormClients }, 120_000)
  const stats = await drain(context, expected)
  const withLoss = await context.generator.stats(start, final)
  const counted = await reads.stop()
  const storm: ScaleStorm = {
    clients: stormClients, nodes: nodes.length, missedPerClient: missedPerTopic, expected, delivered: stats.received,
    lost: withLoss.lost ?? 0, duplicates: stats.duplicates, resets: stats.resets,
    caughtUpMs: stats.received >= expected && stats.lastEventAt !== undefined ? Math.round(stats.lastEventAt - t0) : undefined,
    reads: counted,
  }
  context.log(`scale storm: ${stormClients} clients over ${nodes.length} nodes, ${storm.delivered}/${expected} missed events delivered (lost ${storm.lost}), Postgres (${counted.method}): event reads ${counted.eventReads === undefined ? 'n/a' : `${counted.eventReads.calls} (${counted.eventReads.rows} rows)`}, other ${counted.other.calls} (${counted.other.rows} rows)`)
  await context.generator.closeClients()
  return storm
}

async function withClient<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await run(client)
  } finally {
    await client.end()
  }
}

async function historyHead(url: string): Promise<string> {
  return withClient(url, async (client) => {
    const row = (await client.query<{ lsn: string; seq: number }>('SELECT commit_lsn::text AS lsn, seq FROM walcast.events ORDER BY commit_lsn DESC, seq DESC LIMIT 1')).rows[0]
    if (row === undefined) throw new Error('scale storm: the history is empty (the throughput steps should have filled it)')
    return formatEventId({ lsn: parseLsn(row.lsn), seq: row.seq })
  })
}

async function historyCountAfter(url: string, since: string): Promise<number> {
  return withClient(url, async (client) => {
    const { lsn, seq } = parseEventId(since)
    const result = await client.query<{ n: string }>('SELECT count(*) AS n FROM walcast.events WHERE (commit_lsn, seq) > ($1::pg_lsn, $2::int)', [formatLsn(lsn), seq])
    return Number(result.rows[0]?.n ?? 0)
  })
}

const EVENT_TABLES = /"?walcast"?\s*\.\s*"?(events|event_topics)"?/i

/**
 * Reads of this database between start and stop(): per statement with pg_stat_statements
 * when the server preloads it (the embedded bench Postgres does), else the database's
 * transaction and row counters.
 */
async function readCounter(url: string, databaseName: string): Promise<{ stop(): Promise<StormReads> }> {
  const statements = await withClient(url, async (client) => {
    try {
      await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements')
      await client.query('SELECT 1 FROM pg_stat_statements LIMIT 1')
      return true
    } catch {
      return false
    }
  })
  if (statements) {
    const snapshot = (): Promise<Map<string, { query: string; calls: number; rows: number }>> => withClient(url, async (client) => {
      const result = await client.query<{ id: string; query: string; calls: string; rows: string }>(
        'SELECT queryid::text || \':\' || userid::text || \':\' || toplevel::text AS id, query, calls, rows FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1)', [databaseName])
      return new Map(result.rows.map((row) => [row.id, { query: row.query, calls: Number(row.calls), rows: Number(row.rows) }]))
    })
    const before = await snapshot()
    return {
      async stop() {
        const after = await snapshot()
        const eventReads = { calls: 0, rows: 0 }
        const other = { calls: 0, rows: 0 }
        for (const [id, now] of after) {
          // The counter's own snapshot query is not the nodes' doing.
          if (now.query.includes('pg_stat_statements')) continue
          const was = before.get(id)
          const target = /^\s*(select|with)\b/i.test(now.query) && EVENT_TABLES.test(now.query) ? eventReads : other
          target.calls += now.calls - (was?.calls ?? 0)
          target.rows += now.rows - (was?.rows ?? 0)
        }
        return { method: 'pg_stat_statements', eventReads, other }
      },
    }
  }
  const counters = (): Promise<{ xact: number; rows: number }> => withClient(url, async (client) => {
    const row = (await client.query<{ xact: string; rows: string }>('SELECT xact_commit AS xact, tup_returned AS rows FROM pg_stat_database WHERE datname = $1', [databaseName])).rows[0]
    return { xact: Number(row?.xact ?? 0), rows: Number(row?.rows ?? 0) }
  })
  const before = await counters()
  return {
    async stop() {
      // The statistics collector publishes with a delay of up to a second.
      await sleep(1_000)
      const after = await counters()
      return { method: 'pg_stat_database', other: { calls: after.xact - before.xact, rows: after.rows - before.rows } }
    },
  }
}
