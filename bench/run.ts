/**
 * `npm run bench [-- --quick | --smoke] [--out DIR] [--only ingest,latency,...] [--no-centrifugo]`
 *
 * Real SQL writes and real clients on loopback: walcast, the Socket.IO + NOTIFY peer and
 * Centrifugo (when its binary is installed), each in its own process on its own database
 * of one Postgres (DATABASE_URL's server, or an embedded one in a temp directory), clients
 * in a separate load-generator process. Client-facing phases interleave the systems
 * (A B C A B C). Writes <out>/<date>.json and
 * regenerates BENCHMARKS.md (with --out, the report goes there instead). Every loop is
 * bounded in time.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { startLoadGenerator, type LoadGenerator } from './lib/generator-handle.ts'
import { startBenchPostgres } from './lib/postgres.ts'
import { REPO } from './lib/processes.ts'
import { startCentrifugoSystem, startSocketIoSystem, startSystemOfKind, startUwsFloorSystem, startWalcastSystem, type SystemUnderTest } from './lib/systems.ts'
import { describeMachine } from './lib/machine.ts'
import { PROFILES, type Profile } from './profile.ts'
import type { BenchContext } from './scenarios/context.ts'
import { measureIngest } from './scenarios/ingest.ts'
import { isIdleFailure, measureFanout, measureIdle, measureLoss } from './scenarios/clients.ts'
import { measureReplay } from './scenarios/replay.ts'
import { measureLatency } from './scenarios/latency.ts'
import { measureSlow } from './scenarios/slow.ts'
import { measureResumeStorm } from './scenarios/resume.ts'
import { measureBacklog } from './scenarios/backlog.ts'
import { measureScale } from './scenarios/scale.ts'
import { measureLive } from './scenarios/live.ts'
import { measureTrading } from './scenarios/trading.ts'
import { writeReport, type BenchResults } from './report.ts'

export const SCENARIOS = ['ingest', 'latency', 'fanout', 'replay', 'resume', 'slow', 'backlog', 'loss', 'idle', 'scale', 'live', 'trading'] as const
type Scenario = (typeof SCENARIOS)[number]

export interface BenchRunOptions {
  readonly profile: Profile
  readonly only: readonly Scenario[]
  readonly outDir: string
  readonly reportPath: string
  readonly databaseUrl: string | undefined
  /** Leave Centrifugo out even when its binary is installed (reported as not measured). */
  readonly withoutCentrifugo?: boolean
  readonly log: (message: string) => void
}

export async function runBench(options: BenchRunOptions): Promise<{ results: BenchResults; jsonPath: string }> {
  const started = Date.now()
  const suffix = randomBytes(3).toString('hex')
  const postgres = await startBenchPostgres(options.databaseUrl)
  const results: BenchResults = {
    profile: options.profile.name,
    startedAt: new Date(started).toISOString(),
    durationSeconds: 0,
    machine: await describeMachine(postgres.url),
    command: benchCommand(options),
    errors: {},
    notMeasured: {},
  }
  const systems: SystemUnderTest[] = []
  let generator: LoadGenerator | undefined
  const attempt = async <T>(name: Scenario, run: () => Promise<T>): Promise<T | undefined> => {
    if (!options.only.includes(name)) return undefined
    try {
      return await run()
    } catch (err) {
      results.errors[name] = err instanceof Error ? err.message : String(err)
      options.log(`${name} failed: ${results.errors[name]}`)
      return undefined
    }
  }
  try {
    const base = { profile: options.profile, postgres, suffix, log: options.log }
    results.ingest = await attempt('ingest', () => measureIngest({ ...base, systems: [], generator: undefined as never }))
    // Its own walcast (the trading catalog) and clients; the peers have no such feature.
    results.trading = await attempt('trading', () => measureTrading(base))
    // The scale-out phase starts its own walcast nodes; the compared systems serve the others.
    if (options.only.some((name) => name !== 'ingest' && name !== 'scale' && name !== 'trading')) {
      systems.push(await startWalcastSystem(postgres, options.profile.population, suffix))
      systems.push(await startSocketIoSystem(postgres, options.profile.population, suffix))
      const centrifugo = options.withoutCentrifugo === true
        ? { notMeasured: 'left out with --no-centrifugo' }
        : await startCentrifugoSystem(postgres, options.profile.population, suffix)
      if ('notMeasured' in centrifugo) {
        results.notMeasured = { ...results.notMeasured, centrifugo: centrifugo.notMeasured }
        options.log(`Centrifugo: not measured (${centrifugo.notMeasured})`)
      } else {
        systems.push(centrifugo)
      }
      results.systems = systems.map((system) => ({ kind: system.kind, label: system.label, ...(system.version === undefined ? {} : { version: system.version }) }))
    }
    if (options.only.some((name) => name !== 'ingest' && name !== 'trading')) {
      generator = await startLoadGenerator()
      const context: BenchContext = { ...base, systems, generator }
      results.latency = await attempt('latency', () => measureLatency(context))
      results.fanout = await attempt('fanout', async () => {
        // The floor joins the fan-out phase only: the limit for server CPU per delivery.
        const floor = await startUwsFloorSystem(postgres, options.profile.population, suffix)
        try {
          return await measureFanout({ ...context, systems: [...context.systems, floor] })
        } finally {
          await floor.stop().catch(() => {})
        }
      })
      results.replay = await attempt('replay', () => measureReplay(context, systems[0]!))
      results.resume = await attempt('resume', () => measureResumeStorm(context))
      results.slow = await attempt('slow', () => measureSlow(context))
      results.backlog = await attempt('backlog', () => measureBacklog(context))
      results.loss = await attempt('loss', () => measureLoss(context))
      // Fresh instances of each system: what earlier phases left mapped must not count.
      results.idle = await attempt('idle', () => measureIdle(context, (kind, name) => startSystemOfKind(kind, postgres, options.profile.population, name)))
      // A system that failed has its row; the run's list of failures names it too.
      const idleFailures = (results.idle ?? []).filter(isIdleFailure)
      if (idleFailures.length > 0) results.errors.idle = idleFailures.map((row) => `${row.system}: ${row.failed}`).join('; ')
      results.scale = await attempt('scale', () => measureScale(context))
      results.live = await attempt('live', () => measureLive(context, systems[0]!))
    }
  } finally {
    await generator?.stop().catch(() => {})
    for (const system of systems) await system.stop().catch(() => {})
    await postgres.stop().catch(() => {})
  }
  results.durationSeconds = Math.round((Date.now() - started) / 1000)
  await fs.mkdir(options.outDir, { recursive: true })
  const jsonPath = path.join(options.outDir, `${results.startedAt.slice(0, 19).replaceAll(':', '-')}-${options.profile.name}.json`)
  await fs.writeFile(jsonPath, `${JSON.stringify(results, null, 2)}\n`)
  await writeReport(results, jsonPath, options.reportPath)
  return { results, jsonPath }
}

/** The command that repeats this run (selected phases included). */
function benchCommand(options: Pick<BenchRunOptions, 'profile' | 'only'>): string {
  const args = [
    ...(options.profile.name === 'full' ? [] : [`--${options.profile.name}`]),
    ...(SCENARIOS.every((name) => options.only.includes(name)) ? [] : [`--only ${options.only.join(',')}`]),
  ]
  return `npm run bench${args.length === 0 ? '' : ` -- ${args.join(' ')}`}`
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      out: { type: 'string' },
      only: { type: 'string' },
      'no-centrifugo': { type: 'boolean', default: false },
    },
  })
  const profile = PROFILES[values.smoke ? 'smoke' : values.quick ? 'quick' : 'full']
  const only = (values.only?.split(',') ?? [...SCENARIOS]) as Scenario[]
  for (const name of only) {
    if (!(SCENARIOS as readonly string[]).includes(name)) throw new Error(`--only: unknown scenario ${name}; expected ${SCENARIOS.join(', ')}`)
  }
  const outDir = values.out ?? path.join(REPO, 'bench/results')
  const reportPath = values.out === undefined ? path.join(REPO, 'BENCHMARKS.md') : path.join(values.out, 'BENCHMARKS.md')
  const { results, jsonPath } = await runBench({
    profile,
    only,
    outDir,
    reportPath,
    // The benchmark's own setting (walcast's config lives in src/config.ts).
    databaseUrl: process.env.DATABASE_URL,
    withoutCentrifugo: values['no-centrifugo'],
    log: (message) => process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`),
  })
  process.stdout.write(`wrote ${jsonPath} and ${reportPath} in ${results.durationSeconds}s\n`)
  return Object.keys(results.errors).length === 0 ? 0 : 1
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  main().then((code) => process.exit(code), (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`)
    process.exit(1)
  })
}
