import os from 'node:os'
import pg from 'pg'
import type { ClientSpec, PoolTally } from '../lib/clients.ts'
import { startLoadGenerator, type LoadGenerator } from '../lib/generator-handle.ts'
import { cpuMeter, rssSampler } from '../lib/processes.ts'
import { HOT_ESCROW, spreadEscrows } from '../lib/seed.ts'
import { serverPids, type SystemUnderTest } from '../lib/systems.ts'
import { currentAmounts, startWriter } from '../lib/writer.ts'
import { topicMap, type PhaseBase } from './clients.ts'
import { BENCH_JWT_SECRET } from '../lib/token.ts'
import { round, sleep, type BenchContext } from './context.ts'

export interface BacklogPhase extends PhaseBase {
  readonly clients: number
  /** Events in the backlog, and how many of them are on the hot topic every client reads. */
  readonly backlogEvents: number
  readonly hotEvents: number
  /** Deliveries owed: hot events × clients. */
  readonly expectedDeliveries: number
  /** From the moment the ingest could write again until every client held every hot event; undefined if they never did within the bound. */
  readonly drainSeconds: number | undefined
  /** Client-side: WebSocket closes the clients saw (code → count), reconnects, and what they never received. */
  readonly closeCodes: Record<string, number>
  readonly reconnects: number
  readonly lost: number
  readonly missing: number
  readonly duplicates: number
  readonly resets: number
  /** Server-side, from its metrics over the phase: 4008 closes, and live subscriptions paced instead. */
  readonly serverCloses: number | undefined
  readonly paced: number | undefined
  readonly peakRssMb: number
  /** Load-generator processes the clients were spread over (absent in older results: one). */
  readonly generators?: number
}

/**
 * The phase's size, from the profile unless the environment says otherwise (to reproduce
 * at a size between the profiles): BENCH_BACKLOG_CLIENTS, BENCH_BACKLOG_EVENTS,
 * BENCH_BACKLOG_HOT_EVERY, BENCH_BACKLOG_TIMEOUT (the bound, seconds), and BENCH_BACKLOG_GENERATORS, how many load-generator
 * processes hold the clients (default: one per core, at least 2, at most 4).
 */
export function backlogSize(profile: BenchContext['profile'], env: NodeJS.ProcessEnv = process.env): BenchContext['profile']['backlog'] & { generators: number } {
  const read = (name: string, fallback: number): number => {
    const value = env[name]
    if (value === undefined || value === '') return fallback
    const n = Number(value)
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: expected a positive integer, got ${value}`)
    return n
  }
  return {
    clients: read('BENCH_BACKLOG_CLIENTS', profile.backlog.clients),
    backlogEvents: read('BENCH_BACKLOG_EVENTS', profile.backlog.backlogEvents),
    hotEvery: read('BENCH_BACKLOG_HOT_EVERY', profile.backlog.hotEvery),
    timeoutSeconds: read('BENCH_BACKLOG_TIMEOUT', profile.backlog.timeoutSeconds),
    generators: read('BENCH_BACKLOG_GENERATORS', Math.min(4, Math.max(2, os.availableParallelism()))),
  }
}

/**
 * Catch-up under load (issue #15, item 4): `clients` read at full speed on the hot topic;
 * the ingest is held back (a transaction holds `walcast.events` in SHARE mode: the history
 * append waits, and with it the replication stream, as behind a stalled disk) while the
 * writer commits a backlog in 100-row transactions, part of it to the hot topic. Then the
 * lock goes and the backlog drains in batches of thousands of events, each landing on
 * every subscriber at once. Expected: zero closes (live delivery is paced per subscriber
 * by bytes), zero loss, zero duplicates. walcast only: the peers have no backlog to drain.
 */
export async function measureBacklog(context: BenchContext): Promise<BacklogPhase[]> {
  const { profile } = context
  const { clients, backlogEvents, hotEvery, timeoutSeconds, generators: generatorCount } = backlogSize(profile)
  const out: BacklogPhase[] = []
  const systems = context.systems.filter((system) => system.kind === 'walcast')
  // One load-generator process saturates its core long before 1,000 clients have read
  // 10,000,000 deliveries: the clients are spread over several, so they read at full speed.
  const generators: LoadGenerator[] = [context.generator]
  try {
    while (generators.length < generatorCount) generators.push(await startLoadGenerator())
    for (const system of systems) out.push(await backlogRound(context, system, generators, { clients, backlogEvents, hotEvery, timeoutSeconds }))
  } finally {
    for (const generator of generators.slice(1)) await generator.stop().catch(() => {})
  }
  return out
}

async function backlogRound(context: BenchContext, system: SystemUnderTest, generators: readonly LoadGenerator[], size: { clients: number; backlogEvents: number; hotEvery: number; timeoutSeconds: number }): Promise<BacklogPhase> {
  const { profile } = context
  const { clients, backlogEvents, hotEvery, timeoutSeconds } = size
  const specs: ClientSpec[] = Array.from({ length: clients }, (_, i) => ({ user: i + 1, topics: [`escrow:${HOT_ESCROW}`] }))
  const pool = spreadPool(generators)
  await pool.open(system, specs)
  // One hot row in every `hotEvery`, the others spread: the writer takes escrows round robin.
  const escrows = [HOT_ESCROW, ...spreadEscrows(profile.population).slice(0, hotEvery - 1)]
  const start = topicMap(await currentAmounts(system.databaseUrl), [HOT_ESCROW])
  const before = await gatewayCounters(system)
  await pool.resetStats()

  const lock = new pg.Client({ connectionString: system.databaseUrl, application_name: 'walcast-bench-backlog-lock' })
  await lock.connect()
  let released = false
  try {
    await lock.query('BEGIN')
    await lock.query('LOCK TABLE walcast.events IN SHARE MODE')
    context.log(`backlog: ingest held back; writing ${backlogEvents} events, 1 in ${hotEvery} to the hot topic, ${clients} clients on it in ${generators.length} load generators`)
    const writer = await startWriter({ url: system.databaseUrl, escrows, rowsPerTransaction: 100, eventsPerSecond: 0, durationMs: timeoutSeconds * 1000, maxEvents: backlogEvents })
    const written = await writer.done
    const final = topicMap(written.lastAmount as Map<number, number>, [HOT_ESCROW])
    const hotEvents = final[`escrow:${HOT_ESCROW}`]! - start[`escrow:${HOT_ESCROW}`]!
    const rss = rssSampler(system.pid)
    const meter = cpuMeter({ server: serverPids(system), generator: generators.map((g) => g.pid) })
    await lock.query('COMMIT')
    released = true
    const drained = performance.now()
    const { stats, doneAt } = await untilDelivered(pool, start, final, timeoutSeconds * 1000)
    // Clients still behind at the bound: say where each connection and the server stood.
    if (doneAt === undefined) await reportBehind(context, system, pool, start, final)
    const cpu = meter.stop()
    const after = await gatewayCounters(system)
    const phase: BacklogPhase = {
      system: system.label, kind: system.kind, round: 1, clients, backlogEvents: written.events, hotEvents,
      expectedDeliveries: hotEvents * clients,
      drainSeconds: doneAt === undefined ? undefined : round((doneAt - drained) / 1000, 2),
      closeCodes: stats.closeCodes, reconnects: stats.reconnects, lost: stats.lost, missing: stats.missing, duplicates: stats.duplicates, resets: stats.resets,
      serverCloses: difference(after.closes, before.closes), paced: difference(after.paced, before.paced),
      peakRssMb: round(rss.stop().peak / 1048576), cpu: { server: cpu.server!, generator: cpu.generator! },
      generators: generators.length,
    }
    context.log(`backlog ${system.label}: ${fmtCodes(phase.closeCodes)} closes, lost ${phase.lost}, duplicates ${phase.duplicates}, ${phase.paced ?? 'n/a'} paced, drained in ${phase.drainSeconds ?? 'never'} s, generators at ${phase.cpu.generator}% of a core`)
    return phase
  } finally {
    if (!released) await lock.query('ROLLBACK').catch(() => {})
    await lock.end().catch(() => {})
    await pool.closeClients()
    await sleep(300)
  }
}

/** The clients dealt round robin over the generators; their figures summed. */
function spreadPool(generators: readonly LoadGenerator[]) {
  return {
    async open(system: SystemUnderTest, specs: readonly ClientSpec[]): Promise<void> {
      const shares = generators.map((_, g) => specs.filter((_, i) => i % generators.length === g))
      const opened = await Promise.all(generators.map((generator, g) => generator.open({ kind: system.kind, url: system.clientUrl, secret: BENCH_JWT_SECRET, clients: shares[g]! }, 120_000)))
      const connected = opened.reduce((sum, o) => sum + o.connected, 0)
      if (connected < specs.length) throw new Error(`${system.label}: only ${connected} of ${specs.length} clients connected`)
    },
    behind: async (start: Record<string, number>, final: Record<string, number>) => (await Promise.all(generators.map((g) => g.behind(start, final)))).flat(),
    resetStats: async (): Promise<void> => { await Promise.all(generators.map((g) => g.resetStats())) },
    closeClients: async (): Promise<void> => { await Promise.all(generators.map((g) => g.closeClients())) },
    async stats(start: Record<string, number>, final: Record<string, number>): Promise<PoolTally> {
      const all = await Promise.all(generators.map((g) => g.tally(start, final)))
      return sumTallies(all.map((tally) => tally ?? { closeCodes: {}, reconnects: 0, lost: Infinity, missing: 0, duplicates: 0, resets: 0 }))
    },
  }
}

export function sumTallies(all: readonly PoolTally[]): PoolTally {
  const closeCodes: Record<string, number> = {}
  for (const stats of all) for (const [code, n] of Object.entries(stats.closeCodes)) closeCodes[code] = (closeCodes[code] ?? 0) + n
  const sum = (pick: (stats: PoolTally) => number): number => all.reduce((total, stats) => total + pick(stats), 0)
  return { closeCodes, reconnects: sum((s) => s.reconnects), lost: sum((s) => s.lost), missing: sum((s) => s.missing), duplicates: sum((s) => s.duplicates), resets: sum((s) => s.resets) }
}

/** Until no client misses a hot event (or the bound passes). */
async function untilDelivered(pool: ReturnType<typeof spreadPool>, start: Record<string, number>, final: Record<string, number>, timeoutMs: number): Promise<{ stats: PoolTally; doneAt: number | undefined }> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const stats = await pool.stats(start, final)
    if (stats.lost === 0) return { stats, doneAt: performance.now() }
    if (performance.now() > deadline) return { stats, doneAt: undefined }
    await sleep(250)
  }
}

/** What the clients still behind and the server's sockets say (the server's only where it answers the 'sockets' message: walcast-child.mjs). */
async function reportBehind(context: BenchContext, system: SystemUnderTest, pool: ReturnType<typeof spreadPool>, start: Record<string, number>, final: Record<string, number>): Promise<void> {
  const behind = await pool.behind(start, final)
  context.log(`backlog ${system.label}: ${behind.length} clients (at most 20 per generator) still behind at the bound: ${JSON.stringify(behind)}`)
  if (system.kind !== 'walcast') return
  const sockets = await new Promise<unknown>((resolve) => {
    const timer = setTimeout(() => done(undefined), 5_000)
    function done(value: unknown): void {
      clearTimeout(timer)
      system.child.off('message', onMessage)
      resolve(value)
    }
    function onMessage(message: unknown): void {
      if (message !== null && typeof message === 'object' && 'sockets' in message) done((message as { sockets: unknown }).sockets)
    }
    system.child.on('message', onMessage)
    system.child.send('sockets')
  })
  context.log(`backlog ${system.label}: the server's sockets not live or waiting for a drain: ${JSON.stringify(sockets)}`)
}

async function gatewayCounters(system: SystemUnderTest): Promise<{ closes: number | undefined; paced: number | undefined }> {
  if (system.metricsUrl === undefined) return { closes: undefined, paced: undefined }
  const text = await (await fetch(system.metricsUrl)).text()
  const read = (name: string): number | undefined => {
    const match = new RegExp(`^${name} (\\d+)`, 'm').exec(text)
    return match === null ? undefined : Number(match[1])
  }
  return { closes: read('walcast_gateway_slow_consumer_closes_total'), paced: read('walcast_gateway_paced_subscriptions_total') }
}

const difference = (after: number | undefined, before: number | undefined): number | undefined => (after === undefined || before === undefined ? undefined : after - before)
export const closeCount = (codes: Record<string, number>): number => Object.values(codes).reduce((a, n) => a + n, 0)
const fmtCodes = (codes: Record<string, number>): string => (closeCount(codes) === 0 ? '0' : Object.entries(codes).map(([code, n]) => `${code}×${n}`).join(', '))
