/**
 * `npm run load -- <soak|reconnect-storm|fanout-spike> [--duration 2m] [--vus 200]
 *   [--rate 100] [--escrows 50] [--ramp 10s] [--storms 3] [-- extra k6 args]`
 *
 * Starts Postgres (DATABASE_URL's server, or an embedded one in a temp directory on a
 * free port), walcast on a free loopback port, and the SQL writer; runs the k6 script
 * against them; stops everything. Exits with k6's code (99 = a threshold failed).
 */
import { spawn } from 'node:child_process'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { REPO, findK6 } from '../../bench/lib/processes.ts'
import { HOT_ESCROW, spreadEscrows } from '../../bench/lib/seed.ts'
import { startWriter } from '../../bench/lib/writer.ts'
import { startLoadTarget } from './target.ts'

export const SCRIPTS = ['soak', 'reconnect-storm', 'fanout-spike'] as const
export type ScriptName = (typeof SCRIPTS)[number]

export interface LoadRunOptions {
  readonly script: ScriptName
  readonly duration: string
  readonly vus: number
  /** Writer events per second, spread over the escrows and the hot topic. */
  readonly rate: number
  readonly escrows: number
  readonly ramp: string
  readonly storms: number
  readonly databaseUrl: string | undefined
  readonly k6: string
  readonly extraArgs: readonly string[]
  /** Where k6 writes its end-of-test summary (JSON), if anywhere. */
  readonly summaryPath?: string
  readonly quiet?: boolean
}

export async function runLoad(options: LoadRunOptions): Promise<number> {
  const population = { users: options.vus, escrows: options.escrows }
  const target = await startLoadTarget({ databaseUrl: options.databaseUrl, population, prefix: 'load' })
  try {
    const seconds = durationSeconds(options.duration) + durationSeconds(options.ramp) + 60
    const writer = await startWriter({
      url: target.url,
      escrows: [HOT_ESCROW, ...spreadEscrows(population)],
      rowsPerTransaction: 1,
      eventsPerSecond: options.rate,
      durationMs: seconds * 1000,
    })
    target.onStop(async () => { writer.stop(); await writer.done })
    const args = ['run', '--quiet', ...(options.summaryPath === undefined ? [] : ['--summary-export', options.summaryPath]), ...options.extraArgs, path.join(REPO, 'load', `${options.script}.ts`)]
    const env = {
      ...process.env,
      WALCAST_URL: target.wsUrl,
      WALCAST_JWT_SECRET: target.secret,
      VUS: String(options.vus),
      DURATION: options.duration,
      ESCROWS: String(options.escrows),
      HOT_ESCROW: String(HOT_ESCROW),
      RAMP: options.ramp,
      STORMS: String(options.storms),
      K6_NO_USAGE_REPORT: 'true',
    }
    const k6 = spawn(options.k6, args, { env, stdio: ['ignore', options.quiet ? 'pipe' : 'inherit', options.quiet ? 'pipe' : 'inherit'] })
    let output = ''
    k6.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString() })
    k6.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString() })
    const code = await new Promise<number>((resolve) => k6.on('exit', (c) => resolve(c ?? 1)))
    if (options.quiet && code !== 0) process.stderr.write(output)
    return code
  } finally {
    await target.stop()
  }
}

function durationSeconds(text: string): number {
  const match = /^(\d+)(ms|s|m|h)?$/.exec(text)
  if (match === null) throw new Error(`--duration/--ramp: expected 30s, 2m, 1h, got ${JSON.stringify(text)}`)
  const n = Number(match[1])
  return match[2] === 'ms' ? n / 1000 : match[2] === 'm' ? n * 60 : match[2] === 'h' ? n * 3600 : n
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      duration: { type: 'string', default: '30s' },
      vus: { type: 'string', default: '100' },
      rate: { type: 'string', default: '100' },
      escrows: { type: 'string', default: '50' },
      ramp: { type: 'string', default: '10s' },
      storms: { type: 'string', default: '3' },
    },
  })
  const [script, ...extraArgs] = positionals
  if (!(SCRIPTS as readonly string[]).includes(script ?? '')) {
    process.stderr.write(`usage: npm run load -- <${SCRIPTS.join('|')}> [--duration 2m] [--vus 200] [--rate 100] [--escrows 50] [--ramp 10s] [--storms 3]\n`)
    return 2
  }
  const k6 = findK6()
  if (k6 === undefined) {
    process.stderr.write('k6 not found: install it with `go install go.k6.io/k6@latest` (or set K6_BIN); see docs/load.md\n')
    return 2
  }
  durationSeconds(values.duration)
  durationSeconds(values.ramp)
  return runLoad({
    script: script as ScriptName,
    duration: values.duration,
    vus: positiveInt('--vus', values.vus),
    rate: positiveInt('--rate', values.rate),
    escrows: positiveInt('--escrows', values.escrows),
    ramp: values.ramp,
    storms: positiveInt('--storms', values.storms),
    // The load helper's own setting, read here (walcast's config is src/config.ts).
    databaseUrl: process.env.DATABASE_URL,
    k6,
    extraArgs,
  })
}

function positiveInt(name: string, text: string): number {
  if (!/^\d+$/.test(text) || Number(text) === 0) throw new Error(`${name}: expected a positive whole number, got ${JSON.stringify(text)}`)
  return Number(text)
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  main().then((code) => process.exit(code), (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  })
}
