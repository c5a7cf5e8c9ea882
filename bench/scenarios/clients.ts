import type { ClientSpec, PoolStats, SystemKind } from '../lib/clients.ts'
import type { Percentiles } from '../lib/latencies.ts'
import { cpuMeter, rssBytes, tcpSocketMemoryBytes } from '../lib/processes.ts'
import { HOT_ESCROW, spreadEscrowOf, spreadEscrows, type Population } from '../lib/seed.ts'
import { serverPids, type SystemUnderTest } from '../lib/systems.ts'
import { BENCH_JWT_SECRET as BENCH_SECRET } from '../lib/token.ts'
import { currentAmounts, startWriter } from '../lib/writer.ts'
import { interleave, round, sleep, type BenchContext } from './context.ts'

export interface PhaseBase {
  readonly system: string
  readonly kind: string
  readonly round: number
  /** Percent of one core over the phase. */
  readonly cpu: { readonly server: number; readonly generator: number }
}

export function spreadClients(count: number, population: Population): ClientSpec[] {
  return Array.from({ length: count }, (_, i) => ({ user: i + 1, topics: [`escrow:${spreadEscrowOf(i + 1, population)}`] }))
}

function hotClients(count: number): ClientSpec[] {
  return Array.from({ length: count }, (_, i) => ({ user: i + 1, topics: [`escrow:${HOT_ESCROW}`] }))
}

export function topicMap(amounts: Map<number, number>, escrows: readonly number[]): Record<string, number> {
  return Object.fromEntries(escrows.map((e) => [`escrow:${e}`, amounts.get(e) ?? 0]))
}

export async function openClients(context: BenchContext, system: SystemUnderTest, clients: ClientSpec[], extra: { since?: string; idle?: boolean } = {}): Promise<void> {
  const opened = await context.generator.open({ kind: system.kind, url: system.clientUrl, secret: BENCH_SECRET, clients, ...extra }, 120_000)
  if (opened.connected < clients.length) throw new Error(`${system.label}: only ${opened.connected} of ${clients.length} clients connected`)
}

/**
 * Let the last frames arrive: until `expected` frames were received (when known), then
 * until nothing new arrives for the profile's settle time; bounded by `timeoutMs`.
 */
export async function drain(context: BenchContext, expected?: number, timeoutMs = 20_000): Promise<PoolStats> {
  const quietMs = context.profile.settleMs
  const deadline = performance.now() + timeoutMs
  let last = await context.generator.stats()
  while (expected !== undefined && last.received < expected && performance.now() < deadline) {
    await sleep(50)
    last = await context.generator.stats()
  }
  let since = performance.now()
  while (performance.now() < deadline) {
    await sleep(100)
    const now = await context.generator.stats()
    if (now.received !== last.received) since = performance.now()
    else if (performance.now() - since >= quietMs) return now
    last = now
  }
  return last
}

// ---------------------------------------------------------------------------------------
export interface FanoutPhase extends PhaseBase {
  readonly subscribers: number
  readonly eventsPerSecond: number
  readonly events: number
  readonly offeredDeliveries: number
  readonly deliveries: number
  readonly deliveriesPerSecond: number
  readonly missing: number
  readonly duplicates: number
  readonly reconnects: number
  readonly latency: Percentiles
  /** Server CPU time per delivered frame. */
  readonly serverMicrosPerDelivery: number
}

/** One hot topic, many subscribers, a paced writer: deliveries/s and their continuity. */
export async function measureFanout(context: BenchContext): Promise<FanoutPhase[]> {
  const { profile } = context
  const out: FanoutPhase[] = []
  for (const { round: r, system } of interleave(context)) {
    await openClients(context, system, hotClients(profile.fanout.subscribers))
    await context.generator.resetStats()
    const meter = cpuMeter({ server: serverPids(system), generator: context.generator.pid })
    const t0 = performance.now()
    const writer = await startWriter({ url: system.databaseUrl, escrows: [HOT_ESCROW], rowsPerTransaction: 1, eventsPerSecond: profile.fanout.eventsPerSecond, durationMs: profile.fanout.seconds * 1000 })
    const written = await writer.done
    const stats = await drain(context, written.events * profile.fanout.subscribers)
    const cpu = meter.stop()
    const seconds = ((stats.lastEventAt ?? 0) - (stats.firstEventAt ?? 0)) / 1000
    const cpuSeconds = (cpu.server! / 100) * ((performance.now() - t0) / 1000)
    out.push({
      system: system.label, kind: system.kind, round: r, subscribers: profile.fanout.subscribers, eventsPerSecond: profile.fanout.eventsPerSecond,
      events: written.events, offeredDeliveries: written.events * profile.fanout.subscribers, deliveries: stats.received,
      deliveriesPerSecond: Math.round(stats.received / Math.max(seconds, 0.001)), missing: stats.missing, duplicates: stats.duplicates,
      reconnects: stats.reconnects, latency: stats.latency, serverMicrosPerDelivery: round((cpuSeconds * 1e6) / Math.max(1, stats.received), 2),
      cpu: { server: cpu.server!, generator: cpu.generator! },
    })
    context.log(`fanout ${system.label} r${r}: ${out.at(-1)!.deliveriesPerSecond} deliveries/s, p99 ${stats.latency.p99} ms, ${out.at(-1)!.serverMicrosPerDelivery} µs server CPU/delivery, gen ${cpu.generator}%`)
    await context.generator.closeClients()
    await sleep(300)
  }
  return out
}

// ---------------------------------------------------------------------------------------
export interface LossPhase extends PhaseBase {
  readonly clients: number
  readonly drops: number
  readonly written: number
  readonly expected: number
  readonly lost: number
  readonly duplicates: number
  readonly reconnects: number
}

/** Every client is cut off `drops` times while a writer runs; events never received are lost. */
export async function measureLoss(context: BenchContext): Promise<LossPhase[]> {
  const { profile } = context
  const out: LossPhase[] = []
  const escrows = spreadEscrows(profile.population)
  for (const { round: r, system } of interleave(context)) {
    const clients = spreadClients(profile.loss.clients, profile.population)
    await openClients(context, system, clients)
    await context.generator.resetStats()
    const start = topicMap(await currentAmounts(system.databaseUrl), escrows)
    const meter = cpuMeter({ server: serverPids(system), generator: context.generator.pid })
    const writer = await startWriter({ url: system.databaseUrl, escrows, rowsPerTransaction: 1, eventsPerSecond: profile.loss.eventsPerSecond, durationMs: profile.loss.seconds * 1000 })
    for (let i = 1; i <= profile.loss.drops; i++) {
      await sleep((profile.loss.seconds * 1000) / (profile.loss.drops + 1))
      await context.generator.dropAll()
    }
    const written = await writer.done
    const final = topicMap(written.lastAmount as Map<number, number>, escrows)
    let expectedFrames = 0
    for (const client of clients) for (const topic of client.topics) expectedFrames += (final[topic] ?? 0) - (start[topic] ?? 0)
    const stats = await drain(context, expectedFrames)
    const withLoss = await context.generator.stats(start, final)
    const cpu = meter.stop()
    let expected = 0
    for (const client of clients) for (const topic of client.topics) expected += (final[topic] ?? 0) - (start[topic] ?? 0)
    out.push({
      system: system.label, kind: system.kind, round: r, clients: clients.length, drops: profile.loss.drops, written: written.events,
      expected, lost: withLoss.lost ?? 0, duplicates: stats.duplicates, reconnects: stats.reconnects, cpu: { server: cpu.server!, generator: cpu.generator! },
    })
    context.log(`loss ${system.label} r${r}: ${withLoss.lost} of ${expected} events lost across ${profile.loss.drops} forced reconnects (${stats.reconnects} reconnects)`)
    await context.generator.closeClients()
    await sleep(300)
  }
  return out
}

// ---------------------------------------------------------------------------------------
export interface IdlePhase {
  readonly system: string
  readonly kind: string
  readonly round: number
  /** Connections open at the last reading. */
  readonly connections: number
  /**
   * Connections open at the middle reading (absent in results of the older method, a
   * single delta from `rssBeforeMb` read in the server the earlier phases had used).
   */
  readonly baseConnections?: number
  /** The fresh server's RSS after its warm-up, with no connection open. */
  readonly rssBeforeMb: number
  readonly rssBaseMb?: number
  readonly rssAfterMb: number
  /** RSS growth from `baseConnections` to `connections`, per connection added (the row's figure). */
  readonly bytesPerConnection: number
  /** RSS growth from none to `connections`, per connection: fixed costs included. */
  readonly fromZeroBytesPerConnection?: number
  /** Kernel TCP buffers for both ends (client and server share the host), same steps. */
  readonly kernelBytesPerConnection: number
  /** The JavaScript part of it: V8 heap used + external, after a full collection, same steps. */
  readonly heapBytesPerConnection: number | undefined
}

/** A system whose idle readings could not be taken: the others keep theirs (measureIdle). */
export interface IdleFailure {
  readonly system: string
  readonly kind: string
  readonly round: number
  readonly connections: number
  readonly baseConnections: number
  /** Why: its fresh instance did not start, too few clients connected, a reading failed. */
  readonly failed: string
}

export type IdleRow = IdlePhase | IdleFailure

export function isIdleFailure(row: IdleRow): row is IdleFailure {
  return 'failed' in row
}

interface IdleReading {
  readonly rss: number
  readonly heap: number | undefined
  readonly kernel: number
}

/**
 * N connected, subscribed, silent clients, on a fresh process of each system, so no
 * earlier phase's memory blurs the reading: that memory, freed but still mapped, would
 * take the connections' allocations without growing RSS (a delta of 3,035 bytes in one
 * run, 7,166 in another, with the same JavaScript heap per connection). The same steps
 * for each system: start it, open and close a warm-up batch (code paths run, pools and
 * per-topic state made), then read memory after a full collection with none,
 * `baseConnections` and `connections` clients open. The figure is the growth between the
 * last two readings over the connections added: what every connection past the first few
 * thousand costs, fixed costs (per-topic state, buffers grown once) cancelled out.
 */
export async function measureIdle(context: BenchContext, startFresh: (kind: SystemKind, suffix: string) => Promise<SystemUnderTest | { notMeasured: string }>): Promise<IdleRow[]> {
  const { profile } = context
  const n = profile.idle.connections
  const base = profile.idle.baseConnections
  const clients = spreadClients(n, profile.population)
  const out: IdleRow[] = []
  // Each system on its own: one that fails (a peer that cannot hold n clients) gets a row
  // saying so, and the others keep their readings.
  for (const [i, running] of context.systems.entries()) {
    let system: SystemUnderTest | undefined
    try {
      const fresh = await startFresh(running.kind as SystemKind, `${context.suffix}_idle${i}`)
      if ('notMeasured' in fresh) throw new Error(`a fresh instance could not start (${fresh.notMeasured})`)
      system = fresh
      out.push(await readIdle(context, system, clients, base))
      const row = out.at(-1) as IdlePhase
      context.log(`idle ${system.label} (fresh): ${row.bytesPerConnection} bytes RSS per connection from ${base} to ${n} (${row.fromZeroBytesPerConnection} from none; JS heap ${row.heapBytesPerConnection}, kernel ${row.kernelBytesPerConnection})`)
    } catch (err) {
      const failed = err instanceof Error ? err.message : String(err)
      out.push({ system: running.label, kind: running.kind, round: 1, connections: n, baseConnections: base, failed })
      context.log(`idle ${running.label}: failed (${failed}); the other systems are measured on`)
    } finally {
      if (system !== undefined) {
        await context.generator.closeClients().catch(() => {})
        await system.stop().catch(() => {})
      }
    }
  }
  return out
}

async function readIdle(context: BenchContext, system: SystemUnderTest, clients: readonly ClientSpec[], base: number): Promise<IdlePhase> {
  const n = clients.length
  const read = async (): Promise<IdleReading> => {
    await sleep(context.profile.settleMs)
    // Readings follow full collections, in Centrifugo (Go) as in the Node servers.
    const memory = await system.collectGarbage()
    return { rss: rssBytes(system.pid), heap: memory === undefined ? undefined : memory.heapUsed + memory.external, kernel: tcpSocketMemoryBytes() }
  }
  await openClients(context, system, clients.slice(0, base), { idle: true })
  await context.generator.closeClients()
  const none = await read()
  await openClients(context, system, clients.slice(0, base), { idle: true })
  const atBase = await read()
  const more = await context.generator.openMore(clients.slice(base), 120_000)
  if (more.connected < n) throw new Error(`only ${more.connected} of ${n} clients connected`)
  const atTop = await read()
  const perAdded = (a: number, b: number): number => Math.round((b - a) / (n - base))
  return {
    system: system.label, kind: system.kind, round: 1, connections: n, baseConnections: base,
    rssBeforeMb: round(none.rss / 1048576), rssBaseMb: round(atBase.rss / 1048576), rssAfterMb: round(atTop.rss / 1048576),
    bytesPerConnection: perAdded(atBase.rss, atTop.rss),
    fromZeroBytesPerConnection: Math.round((atTop.rss - none.rss) / n),
    kernelBytesPerConnection: perAdded(atBase.kernel, atTop.kernel),
    heapBytesPerConnection: atBase.heap === undefined || atTop.heap === undefined ? undefined : perAdded(atBase.heap, atTop.heap),
  }
}
