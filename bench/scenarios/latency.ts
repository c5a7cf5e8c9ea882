import os from 'node:os'
import { startLoadGenerator, type GeneratorLoop, type LoadGenerator } from '../lib/generator-handle.ts'
import { percentiles, type Percentiles } from '../lib/latencies.ts'
import { cpuMeter, hostCpuMeter } from '../lib/processes.ts'
import { pidsByCommandLine, schedMeter, type SchedFigures } from '../lib/sched.ts'
import { spreadEscrows } from '../lib/seed.ts'
import { serverPids, type SystemUnderTest } from '../lib/systems.ts'
import { BENCH_JWT_SECRET } from '../lib/token.ts'
import { startWriter } from '../lib/writer.ts'
import { spreadClients, type PhaseBase } from './clients.ts'
import { interleave, sleep, type BenchContext } from './context.ts'

export interface LatencyPhase extends PhaseBase {
  readonly clients: number
  readonly eventsPerSecond: number
  readonly offered: number
  readonly deliveries: number
  readonly missing: number
  readonly duplicates: number
  readonly latency: Percentiles
  /** Load-generator processes the clients were spread over (absent in older results: one). */
  readonly generators?: number
  /** Each generator's event loop over the phase: how long a frame could wait there before it was read. */
  readonly generatorLoops?: readonly GeneratorLoop[]
  /** Percent of all cores busy over the phase (anything on the host counts). */
  readonly hostCpu?: number
  /**
   * Run and run-queue wait of the server, the generators, the system's Postgres backends
   * and the driver (the writer): a latency read while these wait for a core is the host's.
   */
  readonly sched?: SchedFigures
}

export interface LatencySize {
  readonly clients: number
  readonly rates: readonly number[]
  readonly seconds: number
  /** Load-generator processes the clients are spread over (the same for every system). */
  readonly generators: number
  /** System kinds measured (all of the run's when absent). */
  readonly systems: readonly string[] | undefined
}

/**
 * The phase's size, from the profile unless the environment says otherwise (to reproduce
 * at another size): BENCH_LATENCY_CLIENTS, BENCH_LATENCY_RATES (comma-separated events/s),
 * BENCH_LATENCY_SECONDS, BENCH_LATENCY_GENERATORS (load-generator processes; default one
 * per core, at least 2, at most 4) and BENCH_LATENCY_SYSTEMS (kinds, comma-separated).
 */
export function latencySize(profile: BenchContext['profile'], env: NodeJS.ProcessEnv = process.env): LatencySize {
  const positive = (name: string, value: string): number => {
    const n = Number(value)
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}: expected a positive number, got ${value}`)
    return n
  }
  const read = (name: string): string | undefined => (env[name] === undefined || env[name] === '' ? undefined : env[name])
  const integer = (name: string, fallback: number): number => {
    const value = read(name)
    if (value === undefined) return fallback
    const n = positive(name, value)
    if (!Number.isInteger(n)) throw new Error(`${name}: expected a positive integer, got ${value}`)
    return n
  }
  const rates = read('BENCH_LATENCY_RATES')
  const seconds = read('BENCH_LATENCY_SECONDS')
  const systems = read('BENCH_LATENCY_SYSTEMS')
  return {
    clients: integer('BENCH_LATENCY_CLIENTS', profile.latency.clients),
    rates: rates === undefined ? profile.latency.rates : rates.split(',').map((rate) => positive('BENCH_LATENCY_RATES', rate.trim())),
    seconds: seconds === undefined ? profile.latency.seconds : positive('BENCH_LATENCY_SECONDS', seconds),
    generators: integer('BENCH_LATENCY_GENERATORS', Math.min(4, Math.max(2, os.availableParallelism()))),
    systems: systems?.split(',').map((kind) => kind.trim()),
  }
}

/**
 * Commit-to-client latency: clients on spread escrow topics, a paced single-row writer.
 * The clients are dealt over several load-generator processes: in one, every frame of
 * every client waits its turn on one event loop, and a burst of frames (a batch of events
 * times its subscribers) queues there behind the others — a wait no real client, with its
 * own CPU, would see, and one that grows with the server's batching rather than its speed.
 * The same generators serve every system.
 */
export async function measureLatency(context: BenchContext): Promise<LatencyPhase[]> {
  const size = latencySize(context.profile)
  const generators: LoadGenerator[] = [context.generator]
  try {
    while (generators.length < size.generators) generators.push(await startLoadGenerator())
    const out: LatencyPhase[] = []
    for (const { round: r, system } of interleave(context)) {
      if (size.systems !== undefined && !size.systems.includes(system.kind)) continue
      out.push(...await latencyRound(context, system, r, generators, size))
    }
    return out
  } finally {
    for (const generator of generators.slice(1)) await generator.stop().catch(() => {})
  }
}

async function latencyRound(context: BenchContext, system: SystemUnderTest, r: number, generators: readonly LoadGenerator[], size: LatencySize): Promise<LatencyPhase[]> {
  const { profile } = context
  const out: LatencyPhase[] = []
  const specs = spreadClients(size.clients, profile.population)
  const opened = await Promise.all(generators.map((generator, g) => generator.open({
    kind: system.kind, url: system.clientUrl, secret: BENCH_JWT_SECRET, clients: specs.filter((_, i) => i % generators.length === g),
  }, 120_000)))
  const connected = opened.reduce((sum, o) => sum + o.connected, 0)
  if (connected < specs.length) throw new Error(`${system.label}: only ${connected} of ${specs.length} clients connected`)
  const database = new URL(system.databaseUrl).pathname.slice(1)
  try {
    for (const rate of size.rates) {
      await Promise.all(generators.map((g) => g.resetStats()))
      const generatorPids = generators.map((g) => g.pid)
      const meter = cpuMeter({ server: serverPids(system), generator: generatorPids })
      const sched = schedMeter({ server: serverPids(system), generator: generatorPids, postgres: () => pidsByCommandLine(` ${database} `), driver: [process.pid] })
      const host = hostCpuMeter()
      const writer = await startWriter({ url: system.databaseUrl, escrows: spreadEscrows(profile.population), rowsPerTransaction: 1, eventsPerSecond: rate, durationMs: size.seconds * 1000 })
      const written = await writer.done
      const perEvent = size.clients / profile.population.escrows
      await drain(context, generators, Math.floor(written.events * perEvent))
      const cpu = meter.stop()
      const schedFigures = sched.stop()
      const hostCpu = host.stop()
      // Read once the phase is over: the percentiles sort every sample, which would hold up
      // the clients' event loop if done while frames were still arriving.
      const loops = await Promise.all(generators.map((g) => g.loop()))
      const all = await Promise.all(generators.map((g) => g.stats()))
      const samples = (await Promise.all(generators.map((g) => g.latencies()))).flat()
      const latency = percentiles(Float64Array.from(samples))
      const sum = (pick: (s: (typeof all)[number]) => number): number => all.reduce((total, s) => total + pick(s), 0)
      const phase: LatencyPhase = {
        system: system.label, kind: system.kind, round: r, clients: size.clients, eventsPerSecond: rate,
        offered: Math.round(written.events * perEvent), deliveries: sum((s) => s.received), missing: sum((s) => s.missing), duplicates: sum((s) => s.duplicates),
        latency, cpu: { server: cpu.server!, generator: cpu.generator! },
        generators: generators.length, generatorLoops: loops, hostCpu, sched: schedFigures,
      }
      out.push(phase)
      const worstLoop = Math.max(...loops.map((l) => l.delayMs.p99))
      context.log(`latency ${system.label} r${r} @${rate}/s: p50 ${latency.p50} p99 ${latency.p99} ms (${phase.deliveries} of ${phase.offered} deliveries, server ${cpu.server}% gen ${cpu.generator}% in ${generators.length}, gen loop delay p99 ${worstLoop} ms; host ${hostCpu}% busy (${schedFigures.steal ?? 'n/a'}% stolen), CPU pressure ${schedFigures.hostPressure ?? 'n/a'}%, run-queue wait server/gen/pg ${schedFigures.waitPercent.server}/${schedFigures.waitPercent.generator}/${schedFigures.waitPercent.postgres}%, load ${schedFigures.loadAverage})`)
    }
  } finally {
    await Promise.all(generators.map((g) => g.closeClients()))
    await sleep(300)
  }
  return out
}

/**
 * Until `expected` frames arrived (or the bound passed), then until none arrived for the
 * profile's settle time. Polls the generators' counts, never their stats: stats() sorts
 * every latency of the phase (a fifth of a second for 300,000 here) and the frames still
 * in flight would wait behind it.
 */
async function drain(context: BenchContext, generators: readonly LoadGenerator[], expected: number, timeoutMs = 20_000): Promise<number> {
  const received = async (): Promise<number> => (await Promise.all(generators.map((g) => g.counts()))).reduce((sum, c) => sum + (c?.received ?? 0), 0)
  const deadline = performance.now() + timeoutMs
  let last = await received()
  while (last < expected && performance.now() < deadline) {
    await sleep(50)
    last = await received()
  }
  let since = performance.now()
  while (performance.now() < deadline) {
    await sleep(100)
    const now = await received()
    if (now !== last) since = performance.now()
    else if (performance.now() - since >= context.profile.settleMs) return now
    last = now
  }
  return last
}
