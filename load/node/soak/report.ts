/**
 * The "Soak" section of BENCHMARKS.md from a soak's samples.json:
 * `node --import tsx load/node/soak/report.ts bench/results/soak/<start>/samples.json`
 * prints it (links relative to the repository root, where BENCHMARKS.md lives).
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { REPO } from '../../../bench/lib/processes.ts'
import { DEFAULTS } from './run.ts'
import type { SoakResult, SpikeRecord, StormRecord } from './soak.ts'
import { median } from './verdict.ts'

const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1)
const signed = (n: number, digits = 1): string => `${n >= 0 ? '+' : ''}${n.toFixed(digits)}`
const int = (n: number): string => Math.round(n).toLocaleString('en-US')

function range(values: readonly number[], unit: string, scale = 1, digits = 0): string {
  if (values.length === 0) return 'not reported'
  const fmt = (v: number): string => (v * scale).toFixed(digits)
  return `median ${fmt(median(values))} ${unit}, max ${fmt(Math.max(...values))} ${unit}`
}

export function soakSection(result: SoakResult, jsonPath: string, svgPath: string): string {
  const v = result.verdict
  const o = result.options
  const minutes = Math.round((result.plan.durationMs / 60_000) * 100) / 100
  const given = { rate: o.rate, clients: o.clients, 'spike-clients': o.spikeClients, escrows: o.escrows, 'sample-seconds': o.sampleIntervalMs / 1000 }
  const lengthArg = [
    Number.isInteger(minutes) ? `--minutes ${minutes}` : `--seconds ${Math.round(result.plan.durationMs / 1000)}`,
    ...Object.entries(given).filter(([name, value]) => DEFAULTS[name as keyof typeof DEFAULTS] !== value).map(([name, value]) => `--${name} ${value}`),
  ].join(' ')
  const after = result.samples.filter((s) => s.tMs >= result.plan.warmupMs)
  const present = (pick: (s: (typeof after)[number]) => number | null): number[] => after.map(pick).filter((x): x is number => x !== null)
  const storms = result.events.filter((e): e is StormRecord => e.kind === 'storm')
  const spikes = result.events.filter((e): e is SpikeRecord => e.kind === 'spike')
  const rate = result.written / (result.plan.durationMs / 1000)
  const rows: Array<[string, string]> = [
    ['RSS after the warm-up (median of first → last tenth)', v.rss === undefined ? 'too few samples' : `${mib(v.rss.baseline)} → ${mib(v.rss.end)} MiB, **${signed(v.rss.growthPercent)}%** (target < ${v.rssTargetPercent}%: ${v.rssWithinTarget ? 'met' : '**missed**'}); peak ${mib(v.rss.peak)} MiB; trend ${signed(v.rss.slopePerHour / 2 ** 20)} MiB/h`],
    ['V8 heap used after the warm-up', v.heapUsed === undefined ? 'too few samples' : `${mib(v.heapUsed.baseline)} → ${mib(v.heapUsed.end)} MiB (${signed(v.heapUsed.growthPercent)}%); peak ${mib(v.heapUsed.peak)} MiB; trend ${signed(v.heapUsed.slopePerHour / 2 ** 20)} MiB/h`],
    ['event-loop delay p99 per reading, after the warm-up', range(present((s) => s.loopDelayP99Seconds), 'ms', 1000, 1)],
    ['event-loop delay max per reading, after the warm-up', range(present((s) => s.loopDelayMaxSeconds), 'ms', 1000, 1)],
    ['open file descriptors after the warm-up', (() => { const fds = present((s) => s.openFds); return fds.length === 0 ? 'not reported' : `${Math.min(...fds)}–${Math.max(...fds)}, median ${median(fds)}` })()],
    ['slot lag after the warm-up', range(present((s) => s.slotLagBytes), 'KiB', 1 / 1024, 1)],
    ['events written', `${int(result.written)} (${rate.toFixed(0)}/s against ${o.rate}/s asked)`],
    ['deliveries checked', int(v.received)],
    ['gaps / duplicates / lost / resets', `**${v.gaps} / ${v.duplicates} / ${v.lost} / ${v.resets}**`],
    ['steady clients: commit → client', `p50 ${result.steady.latency.p50} ms, p99 ${result.steady.latency.p99} ms, max ${result.steady.latency.max} ms`],
    [`reconnect storms (${storms.length}, all ${o.clients} clients dropped at once)`, `every client subscribed again after ${storms.map((s) => (s.recoveredMs === undefined ? '> 60 s' : `${(s.recoveredMs / 1000).toFixed(1)} s`)).join(', ')}`],
    [`fan-out spikes (${spikes.length} × ${o.spikeClients} clients on the hot topic)`, spikes.map((s) => `${s.connected} subscribed (p99 ${Math.round(s.subscribeMs.p99)} ms), ${int(s.received)} events in ${Math.round(s.holdMs / 1000)} s, ${s.gaps + s.duplicates + s.resets} gaps/duplicates/resets`).join('; ')],
  ]
  return [
    '## Soak (`npm run soak`)',
    '',
    `Run: \`npm run soak -- ${lengthArg}\`, ${result.startedAt}, on ${result.machine.cores} cores (${result.machine.cpu}), Node ${result.machine.node}, PostgreSQL ${result.machine.postgres}. ${o.clients} steady clients (each on one of ${o.escrows} escrow topics, every tenth also on the hot one), a writer at ${o.rate} one-row transactions/s, ${storms.length} reconnect storms and ${spikes.length} fan-out spikes of ${o.spikeClients} clients; walcast's /metrics read every ${o.sampleIntervalMs / 1000} s; warm-up ${(result.plan.warmupMs / 60_000).toFixed(1)} min. Raw samples: [${path.basename(jsonPath)}](${jsonPath}).`,
    '',
    `**Verdict: ${v.pass ? 'PASS' : 'FAIL'}**: RSS ${v.rss === undefined ? 'not measured' : `${signed(v.rss.growthPercent)}%`} after the warm-up (target < ${v.rssTargetPercent}%), ${v.gaps} gaps, ${v.duplicates} duplicates, ${v.lost} lost, ${v.resets} resets.`,
    '',
    `![walcast soak: RSS, heap, event-loop delay, open fds and slot lag over ${minutes} minutes](${svgPath})`,
    '',
    '| figure | value |',
    '|---|---|',
    ...rows.map(([name, value]) => `| ${name} | ${value} |`),
    '',
    `Reproduce: \`npm run soak -- ${lengthArg}\` (docs/load.md: options, scenarios, exit codes). The k6 scripts in \`load/\` run the same three scenarios for whoever has k6 (\`npm run load -- soak|reconnect-storm|fanout-spike\`). This section: \`node --import tsx load/node/soak/report.ts ${jsonPath}\`.`,
    '',
  ].join('\n')
}

async function main(): Promise<void> {
  const file = process.argv[2]
  if (file === undefined) throw new Error('usage: node --import tsx load/node/soak/report.ts <samples.json>')
  const result = JSON.parse(await fs.readFile(file, 'utf8')) as SoakResult
  const json = path.relative(REPO, path.resolve(file))
  const svg = path.join(path.dirname(json), 'soak.svg')
  process.stdout.write(soakSection(result, json, svg))
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  })
}
