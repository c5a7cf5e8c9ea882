/**
 * The soak: walcast on a real Postgres (load/node/target.ts), a steady SQL writer, and
 * steady clients that each check every event of their topics once and in order (the soak
 * scenario of load/soak.ts), dropped all at once now and then (load/reconnect-storm.ts),
 * while a second crowd piles onto the hot topic and leaves (load/fanout-spike.ts). The
 * clients are the benchmark's Node load generator (bench/lib/clients.ts) in child processes.
 * walcast's /metrics is read every few seconds; the verdict compares resident memory after
 * the warm-up and counts every gap, duplicate, reset and lost event.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import type { ClientSpec, PoolStats } from '../../../bench/lib/clients.ts'
import { startLoadGenerator, type LoadGenerator } from '../../../bench/lib/generator-handle.ts'
import type { Percentiles } from '../../../bench/lib/latencies.ts'
import { describeMachine, type MachineDescription } from '../../../bench/lib/machine.ts'
import { HOT_ESCROW, spreadEscrowOf, spreadEscrows, type Population } from '../../../bench/lib/seed.ts'
import { currentAmounts, startWriter } from '../../../bench/lib/writer.ts'
import { startLoadTarget } from '../target.ts'
import { renderSoakChart } from './chart.ts'
import { planSoak, type SoakEventKind, type SoakPlan } from './plan.ts'
import { startSampler, type SoakSample } from './sampler.ts'
import { soakVerdict, type SoakVerdict } from './verdict.ts'

export interface SoakOptions {
  readonly durationMs: number
  /** Writer events per second, spread round robin over the hot escrow and the spread ones. */
  readonly rate: number
  /** Steady clients: each watches its spread escrow; every tenth the hot one too. */
  readonly clients: number
  /** Clients of each fan-out spike, all on the hot escrow. */
  readonly spikeClients: number
  readonly escrows: number
  readonly sampleIntervalMs: number
  /** DATABASE_URL's server, or an embedded Postgres when undefined. */
  readonly databaseUrl: string | undefined
  /** Where samples.json and soak.svg go (created); nothing is written when undefined. */
  readonly outDir: string | undefined
  readonly log?: (line: string) => void
}

export interface StormRecord {
  readonly kind: 'storm'
  readonly atMs: number
  /** From the drop until every steady client was subscribed again (undefined: not within 60 s). */
  readonly recoveredMs: number | undefined
}

export interface SpikeRecord {
  readonly kind: 'spike'
  readonly atMs: number
  readonly holdMs: number
  readonly connected: number
  readonly subscribeMs: Percentiles
  readonly received: number
  readonly gaps: number
  readonly duplicates: number
  readonly resets: number
  readonly latency: Percentiles
}

export interface SoakResult {
  readonly startedAt: string
  readonly options: Omit<SoakOptions, 'log' | 'databaseUrl' | 'outDir'>
  readonly machine: MachineDescription
  readonly plan: SoakPlan
  readonly samples: readonly SoakSample[]
  readonly events: ReadonlyArray<StormRecord | SpikeRecord>
  readonly steady: Pick<PoolStats, 'clients' | 'received' | 'missing' | 'duplicates' | 'resets' | 'reconnects' | 'errors' | 'closeCodes' | 'latency' | 'lost'>
  readonly written: number
  readonly verdict: SoakVerdict
  /** Files written (with outDir). */
  readonly files: { readonly json: string; readonly svg: string } | undefined
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)))

export function steadyClients(count: number, population: Population): ClientSpec[] {
  return Array.from({ length: count }, (_, i) => {
    const user = i + 1
    const topics = [`escrow:${spreadEscrowOf(user, population)}`]
    if (user % 10 === 0) topics.push(`escrow:${HOT_ESCROW}`)
    return { user, topics }
  })
}

function topicMap(amounts: ReadonlyMap<number, number>, escrows: readonly number[]): Record<string, number> {
  return Object.fromEntries(escrows.map((e) => [`escrow:${e}`, amounts.get(e) ?? 0]))
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const log = options.log ?? (() => {})
  const plan = planSoak(options.durationMs)
  const population: Population = { users: Math.max(options.clients, options.spikeClients), escrows: options.escrows }
  const escrows = [HOT_ESCROW, ...spreadEscrows(population)]
  const startedAt = new Date().toISOString()
  const target = await startLoadTarget({ databaseUrl: options.databaseUrl, population, prefix: 'soak' })
  try {
    const machine = await describeMachine(target.url)
    const steady = await startLoadGenerator()
    target.onStop(() => steady.stop())
    const spike = await startLoadGenerator()
    target.onStop(() => spike.stop())
    const pool = { kind: 'walcast' as const, url: target.wsUrl, secret: target.secret }
    const opened = await steady.open({ ...pool, clients: steadyClients(options.clients, population) }, 120_000)
    if (opened.connected < options.clients) throw new Error(`only ${opened.connected} of ${options.clients} steady clients subscribed`)
    log(`${opened.connected} steady clients subscribed (p50 ${opened.subscribeMs.p50} ms); writing ${options.rate} events/s for ${options.durationMs / 60_000} min`)

    // Every client subscribed before the first write: each must see every counter from 1.
    const start = topicMap(await currentAmounts(target.url), escrows)
    const writer = await startWriter({ url: target.url, escrows, rowsPerTransaction: 1, eventsPerSecond: options.rate, durationMs: options.durationMs + 60_000 })
    target.onStop(async () => { writer.stop(); await writer.done })
    const t0 = performance.now()
    const elapsedMs = (): number => performance.now() - t0
    const sampler = startSampler({
      metricsUrl: target.metricsUrl,
      intervalMs: options.sampleIntervalMs,
      durationMs: options.durationMs,
      elapsedMs,
      // counts(), not stats(): stats() sorts every latency of the run, which blocks the clients' process for a second once it holds a million.
      extra: async () => ({ written: writer.written(), received: (await steady.counts().catch(() => undefined))?.received ?? null }),
      onSample: (s) => {
        const mib = (b: number | null): string => (b === null ? '-' : (b / 2 ** 20).toFixed(1))
        log(`${(s.tMs / 60_000).toFixed(2)} min: rss ${mib(s.rssBytes)} MiB, heap ${mib(s.heapUsedBytes)} MiB, loop p99 ${s.loopDelayP99Seconds === null ? '-' : (s.loopDelayP99Seconds * 1000).toFixed(1)} ms, fds ${s.openFds ?? '-'}, lag ${s.slotLagBytes ?? '-'} B, written ${s.written}, received ${s.received ?? '-'}`)
      },
    })

    const events: Array<StormRecord | SpikeRecord> = []
    for (const event of plan.events) {
      await sleep(event.atMs - elapsedMs())
      events.push(event.kind === 'storm' ? await storm(steady, options.clients, elapsedMs) : await fanOutSpike(spike, pool, options.spikeClients, event.holdMs, elapsedMs))
      log(describeEvent(events.at(-1)!))
    }
    await sleep(options.durationMs - elapsedMs())
    await sampler.stop()
    writer.stop()
    const written = await writer.done
    const final = topicMap(written.lastAmount, escrows)
    // The last commits reach the clients: until none is missing, or 60 s.
    let stats = await steady.stats(start, final)
    for (const deadline = performance.now() + 60_000; (stats.lost ?? 0) > 0 && performance.now() < deadline;) {
      await sleep(250)
      stats = await steady.stats(start, final)
    }
    const spikes = events.filter((e): e is SpikeRecord => e.kind === 'spike')
    const verdict = soakVerdict(sampler.samples, plan.warmupMs, {
      gaps: stats.missing + spikes.reduce((n, s) => n + s.gaps, 0),
      duplicates: stats.duplicates + spikes.reduce((n, s) => n + s.duplicates, 0),
      lost: stats.lost ?? 0,
      resets: stats.resets + spikes.reduce((n, s) => n + s.resets, 0),
      received: stats.received + spikes.reduce((n, s) => n + s.received, 0),
    })
    const { latency, closeCodes, clients, received, missing, duplicates, resets, reconnects, errors, lost } = stats
    const result: Omit<SoakResult, 'files'> = {
      startedAt,
      options: { durationMs: options.durationMs, rate: options.rate, clients: options.clients, spikeClients: options.spikeClients, escrows: options.escrows, sampleIntervalMs: options.sampleIntervalMs },
      machine,
      plan,
      samples: sampler.samples,
      events,
      steady: { clients, received, missing, duplicates, resets, reconnects, errors, closeCodes, latency, lost },
      written: written.events,
      verdict,
    }
    return { ...result, files: options.outDir === undefined ? undefined : await writeResult(options.outDir, result) }
  } finally {
    await target.stop()
  }
}

async function storm(steady: LoadGenerator, clients: number, elapsedMs: () => number): Promise<StormRecord> {
  const atMs = elapsedMs()
  await steady.dropAll()
  const dropped = performance.now()
  // Give the drops a moment to land before counting who is back.
  await sleep(100)
  for (const deadline = dropped + 60_000; performance.now() < deadline; await sleep(250)) {
    if (((await steady.counts())?.open ?? 0) >= clients) return { kind: 'storm', atMs, recoveredMs: Math.round(performance.now() - dropped) }
  }
  return { kind: 'storm', atMs, recoveredMs: undefined }
}

async function fanOutSpike(spike: LoadGenerator, pool: { kind: 'walcast'; url: string; secret: string }, count: number, holdMs: number, elapsedMs: () => number): Promise<SpikeRecord> {
  const atMs = elapsedMs()
  const clients = Array.from({ length: count }, (_, i) => ({ user: i + 1, topics: [`escrow:${HOT_ESCROW}`] }))
  const opened = await spike.open({ ...pool, clients }, 60_000)
  await sleep(holdMs)
  const stats = await spike.stats()
  await spike.closeClients()
  return {
    kind: 'spike', atMs, holdMs, connected: opened.connected, subscribeMs: opened.subscribeMs,
    received: stats.received, gaps: stats.missing, duplicates: stats.duplicates, resets: stats.resets, latency: stats.latency,
  }
}

function describeEvent(event: StormRecord | SpikeRecord): string {
  const at = `${(event.atMs / 60_000).toFixed(2)} min`
  if (event.kind === 'storm') return `${at}: reconnect storm, every steady client back in ${event.recoveredMs ?? '> 60000'} ms`
  return `${at}: fan-out spike, ${event.connected} clients subscribed (p99 ${event.subscribeMs.p99} ms), ${event.received} events in ${Math.round(event.holdMs / 1000)} s, ${event.gaps} gaps, ${event.duplicates} duplicates`
}

async function writeResult(outDir: string, result: Omit<SoakResult, 'files'>): Promise<{ json: string; svg: string }> {
  await fs.mkdir(outDir, { recursive: true })
  const json = path.join(outDir, 'samples.json')
  const svg = path.join(outDir, 'soak.svg')
  await fs.writeFile(json, `${JSON.stringify(result, null, 2)}\n`)
  const minutes = Math.round((result.plan.durationMs / 60_000) * 10) / 10
  const title = `walcast soak: ${minutes} min, ${result.options.clients} clients + spikes of ${result.options.spikeClients}, ${result.options.rate} events/s`
  await fs.writeFile(svg, await renderSoakChart(result.samples, result.plan, title))
  return { json, svg }
}

export type { SoakEventKind }
