/**
 * `npm run soak -- --minutes 30 [--out DIR] [--rate 200] [--clients 200] [--spike-clients 500]
 *   [--escrows 50] [--sample-seconds 5] [--seconds N]`
 *
 * The k6 scripts' soak, reconnect-storm and fan-out-spike scenarios in one run with Node
 * clients (see soak.ts). Writes DIR/samples.json and DIR/soak.svg (default
 * bench/results/soak/<start time>), prints the verdict, and exits 0 when it passed, 1 when a
 * client saw a gap, a duplicate, a reset or lost an event, 3 when delivery was exact but
 * RSS grew by RSS_TARGET_PERCENT or more after the warm-up, 2 on bad arguments.
 */
import path from 'node:path'
import { parseArgs } from 'node:util'
import { REPO } from '../../../bench/lib/processes.ts'
import { runSoak, type SoakOptions, type SoakResult } from './soak.ts'
import { exitCodeOf, type Growth } from './verdict.ts'

/** Clients sign hour-long tokens (bench/lib/token.ts); a longer soak would see them expire. */
export const MAX_MINUTES = 50

/** The flags' defaults, beside their names (the report repeats only what differs). */
export const DEFAULTS = { rate: 200, clients: 200, 'spike-clients': 500, escrows: 50, 'sample-seconds': 5 } as const

export class UsageError extends Error {
  override readonly name = 'UsageError'
}

export function parseSoakArgs(argv: readonly string[], databaseUrl: string | undefined, now = new Date()): SoakOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      minutes: { type: 'string' },
      seconds: { type: 'string' },
      out: { type: 'string' },
      rate: { type: 'string', default: String(DEFAULTS.rate) },
      clients: { type: 'string', default: String(DEFAULTS.clients) },
      'spike-clients': { type: 'string', default: String(DEFAULTS['spike-clients']) },
      escrows: { type: 'string', default: String(DEFAULTS.escrows) },
      'sample-seconds': { type: 'string', default: String(DEFAULTS['sample-seconds']) },
    },
  })
  if ((values.minutes === undefined) === (values.seconds === undefined)) throw new UsageError('give the soak length as --minutes N or --seconds N (one of them)')
  const durationMs = values.minutes !== undefined ? positive('--minutes', values.minutes) * 60_000 : positive('--seconds', values.seconds!) * 1000
  if (durationMs > MAX_MINUTES * 60_000) throw new UsageError(`--minutes: at most ${MAX_MINUTES} (the clients' tokens last an hour)`)
  const stamp = now.toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, '')
  return {
    durationMs,
    rate: whole('--rate', values.rate),
    clients: whole('--clients', values.clients),
    spikeClients: whole('--spike-clients', values['spike-clients']),
    escrows: whole('--escrows', values.escrows),
    sampleIntervalMs: positive('--sample-seconds', values['sample-seconds']) * 1000,
    databaseUrl,
    outDir: path.resolve(values.out ?? path.join(REPO, 'bench', 'results', 'soak', stamp)),
  }
}

function positive(name: string, text: string): number {
  const n = Number(text)
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0) throw new UsageError(`${name}: expected a positive number, got ${JSON.stringify(text)}`)
  return n
}

function whole(name: string, text: string): number {
  if (!/^\d+$/.test(text) || Number(text) === 0) throw new UsageError(`${name}: expected a positive whole number, got ${JSON.stringify(text)}`)
  return Number(text)
}

function growthLine(name: string, growth: Growth | undefined): string {
  if (growth === undefined) return `${name}: too few samples after the warm-up to tell`
  const mib = (b: number): string => (b / 2 ** 20).toFixed(1)
  return `${name}: ${mib(growth.baseline)} → ${mib(growth.end)} MiB after the warm-up (${growth.growthPercent >= 0 ? '+' : ''}${growth.growthPercent.toFixed(1)}%), peak ${mib(growth.peak)} MiB, trend ${growth.slopePerHour >= 0 ? '+' : ''}${mib(growth.slopePerHour)} MiB/h`
}

export function summarize(result: SoakResult): string {
  const v = result.verdict
  const lines = [
    `soak ${(result.plan.durationMs / 60_000).toFixed(1)} min: ${result.written} events written, ${v.received} delivered; ${result.events.length} storms and spikes`,
    growthLine('RSS', v.rss),
    growthLine('heap used', v.heapUsed),
    `RSS target < ${v.rssTargetPercent}% after warm-up: ${v.rssWithinTarget ? 'met' : 'MISSED'}`,
    `gaps ${v.gaps}, duplicates ${v.duplicates}, lost ${v.lost}, resets ${v.resets}: ${v.correct ? 'every event once and in order' : 'DELIVERY FAILED'}`,
    `verdict: ${v.pass ? 'PASS' : 'FAIL'}`,
  ]
  if (result.files !== undefined) lines.push(`samples: ${result.files.json}`, `chart: ${result.files.svg}`)
  return lines.join('\n')
}

async function main(): Promise<number> {
  let options: SoakOptions
  try {
    // The load helpers' own setting, read here (walcast's config is src/config.ts).
    options = parseSoakArgs(process.argv.slice(2), process.env.DATABASE_URL)
  } catch (err) {
    if (!(err instanceof UsageError) && !(err instanceof TypeError)) throw err
    process.stderr.write(`${err.message}\nusage: npm run soak -- --minutes 30 [--out DIR] [--rate 200] [--clients 200] [--spike-clients 500] [--escrows 50] [--sample-seconds 5]\n`)
    return 2
  }
  const result = await runSoak({ ...options, log: (line) => process.stdout.write(`${line}\n`) })
  process.stdout.write(`${summarize(result)}\n`)
  return exitCodeOf(result.verdict)
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  main().then((code) => process.exit(code), (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
    process.exit(1)
  })
}
