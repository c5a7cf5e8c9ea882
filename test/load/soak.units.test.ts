/**
 * The soak's pure parts: when storms and spikes fall, how the figures are read from
 * /metrics, how growth after the warm-up and the verdict are computed, how the chart scales
 * its series, and how the command line is read.
 */
import t from 'tap'
import { PANELS, panelRows, soakChartSpec } from '../../load/node/soak/chart.ts'
import { soakSection } from '../../load/node/soak/report.ts'
import { QUIET_TAIL_FRACTION, WARMUP_MAX_MS, planSoak } from '../../load/node/soak/plan.ts'
import { parsePrometheusText, readFigures, seriesValue } from '../../load/node/soak/prometheus-text.ts'
import { MAX_MINUTES, parseSoakArgs } from '../../load/node/soak/run.ts'
import type { SoakSample } from '../../load/node/soak/sampler.ts'
import { RSS_TARGET_PERCENT, exitCodeOf, growthAfterWarmup, median, slope, soakVerdict } from '../../load/node/soak/verdict.ts'

function sample(tMs: number, rssBytes: number | null, extra: Partial<SoakSample> = {}): SoakSample {
  return {
    tMs, written: 0, received: 0, rssBytes, heapUsedBytes: null, heapTotalBytes: null, loopDelayP99Seconds: null,
    loopDelayMaxSeconds: null, openFds: null, slotLagBytes: null, connections: null, ...extra,
  }
}

const CLEAN = { gaps: 0, duplicates: 0, lost: 0, resets: 0, received: 100 }

t.test('a 30-minute plan: 5 minutes of warm-up holding one storm and one spike, the rest spread before a quiet tail', async (t) => {
  const plan = planSoak(30 * 60_000)
  t.equal(plan.warmupMs, WARMUP_MAX_MS)
  const inWarmup = plan.events.filter((e) => e.atMs < plan.warmupMs)
  t.same(inWarmup.map((e) => e.kind), ['storm', 'spike'], 'the warm-up sees a storm and a spike before the baseline is read')
  const after = plan.events.filter((e) => e.atMs >= plan.warmupMs)
  t.same(after.map((e) => e.kind), ['storm', 'spike', 'storm', 'spike'], 'about one every five minutes, alternating')
  for (const e of plan.events) t.ok(e.atMs + e.holdMs <= plan.durationMs * (1 - QUIET_TAIL_FRACTION), `${e.kind} at ${e.atMs} ms ends before the quiet tail`)
  t.ok(plan.events.every((e) => (e.kind === 'spike') === (e.holdMs > 0) && e.holdMs <= 30_000), 'spikes hold at most 30 s, storms not at all')
  t.ok(plan.events.every((e, i) => i === 0 || e.atMs > plan.events[i - 1]!.atMs), 'in time order')
})

t.test('a short plan scales down: a fifth of the run as warm-up and at least two events after it', async (t) => {
  const plan = planSoak(20_000)
  t.equal(plan.warmupMs, 4_000)
  t.equal(plan.events.filter((e) => e.atMs >= plan.warmupMs).length, 2)
  t.throws(() => planSoak(0), /must be positive/)
})

t.test('the figures are read from Prometheus text, absent series staying undefined', async (t) => {
  const text = [
    '# HELP process_resident_memory_bytes Resident memory size in bytes.',
    '# TYPE process_resident_memory_bytes gauge',
    'process_resident_memory_bytes 123456789',
    'nodejs_heap_size_used_bytes 2048',
    'nodejs_heap_size_total_bytes 4096',
    'process_open_fds 42',
    'walcast_event_loop_delay_seconds{quantile="0.5"} 0.001',
    'walcast_event_loop_delay_seconds{quantile="0.99"} 0.012',
    'walcast_event_loop_delay_seconds{quantile="1"} 0.25',
    'walcast_replication_lag_bytes{slot="walcast"} 1500',
    'walcast_gateway_connections 7',
    'garbage line without a value x',
  ].join('\n')
  t.same(readFigures(text), {
    rssBytes: 123456789, heapUsedBytes: 2048, heapTotalBytes: 4096, loopDelayP99Seconds: 0.012, loopDelayMaxSeconds: 0.25,
    openFds: 42, slotLagBytes: 1500, connections: 7,
  })
  const values = parsePrometheusText(text)
  t.equal(seriesValue(values, 'walcast_event_loop_delay_seconds', { quantile: '0.5' }), 0.001)
  t.equal(seriesValue(values, 'walcast_event_loop_delay_seconds', { quantile: '0.9' }), undefined)
  t.equal(readFigures('walcast_database_up 0\n').slotLagBytes, undefined, 'a series walcast left out is not read as 0')
})

t.test('median and least-squares slope', async (t) => {
  t.equal(median([3, 1, 2]), 2)
  t.equal(median([4, 1, 3, 2]), 2.5)
  t.ok(Number.isNaN(median([])))
  t.equal(slope([[0, 1], [1, 3], [2, 5]]), 2)
  t.equal(slope([[1, 1]]), 0)
  t.equal(slope([[1, 1], [1, 5]]), 0, 'no distinct x: no slope')
})

t.test('growth after the warm-up compares the medians of the first and last tenth, ignoring the warm-up and one-off peaks', async (t) => {
  const mib = 2 ** 20
  // Warm-up: RSS climbs from 50 to 100 MiB; after it: flat at 100 MiB with one 300 MiB peak
  // in the first window, and 104 MiB over the last tenth.
  const samples: SoakSample[] = []
  for (let i = 0; i < 10; i++) samples.push(sample(i * 1000, (50 + i * 5) * mib))
  for (let i = 10; i < 100; i++) samples.push(sample(i * 1000, (i === 11 ? 300 : i >= 91 ? 104 : 100) * mib))
  const growth = growthAfterWarmup(samples, (s) => s.rssBytes, 10_000)!
  t.equal(growth.baseline, 100 * mib)
  t.equal(growth.end, 104 * mib)
  t.equal(growth.peak, 300 * mib)
  t.equal(Math.round(growth.growthPercent * 100) / 100, 4)
  const linear = Array.from({ length: 20 }, (_, i) => sample(i * 1000, 100 * mib + i * mib))
  t.equal(growthAfterWarmup(linear, (s) => s.rssBytes, 0)!.slopePerHour, 3600 * mib, 'the trend is reported per hour too')
  t.equal(growthAfterWarmup(samples.slice(0, 14), (s) => s.rssBytes, 10_000), undefined, 'too few readings after the warm-up: no figure')
  const withGaps = samples.map((s, i) => (i % 2 === 0 ? sample(s.tMs, null) : s))
  t.ok(growthAfterWarmup(withGaps, (s) => s.rssBytes, 10_000) !== undefined, 'missed scrapes are skipped, not read as 0')
})

t.test(`verdict: RSS under +${RSS_TARGET_PERCENT}% after the warm-up and exact delivery pass; either failing fails`, async (t) => {
  const flat = Array.from({ length: 40 }, (_, i) => sample(i * 1000, 100e6, { heapUsedBytes: 20e6 }))
  const pass = soakVerdict(flat, 5_000, CLEAN)
  t.equal(pass.rss?.growthPercent, 0)
  t.equal(pass.heapUsed?.growthPercent, 0)
  t.ok(pass.rssWithinTarget && pass.correct && pass.pass)
  t.equal(exitCodeOf(pass), 0)

  const growing = Array.from({ length: 40 }, (_, i) => sample(i * 1000, i < 30 ? 100e6 : 105e6))
  const grown = soakVerdict(growing, 5_000, CLEAN)
  t.equal(grown.rss?.growthPercent, 5, 'exactly 5% is not under the target')
  t.notOk(grown.rssWithinTarget)
  t.ok(grown.correct)
  t.notOk(grown.pass)
  t.equal(exitCodeOf(grown), 3, 'memory alone: exit 3')

  for (const field of ['gaps', 'duplicates', 'lost', 'resets'] as const) {
    const verdict = soakVerdict(flat, 5_000, { ...CLEAN, [field]: 1 })
    t.notOk(verdict.correct, `one ${field} makes delivery wrong`)
    t.equal(exitCodeOf(verdict), 1, `${field}: exit 1`)
  }
  t.notOk(soakVerdict(flat, 5_000, { ...CLEAN, received: 0 }).correct, 'a soak that delivered nothing proves nothing')
  t.notOk(soakVerdict(flat.slice(0, 3), 0, CLEAN).rssWithinTarget, 'no RSS figure: the target is not met')
})

t.test('chart: each panel in its unit (MiB, ms, KiB) against minutes, absent readings left out', async (t) => {
  const s = sample(90_000, 3 * 2 ** 20, { heapUsedBytes: 2 ** 20, loopDelayP99Seconds: 0.0125, loopDelayMaxSeconds: 0.5, openFds: 99, slotLagBytes: 2048 })
  const rows = Object.fromEntries(PANELS.map((p) => [p.id, panelRows(p, [s])]))
  t.same(rows.rss, [{ minute: 1.5, series: 'RSS', value: 3 }])
  t.same(rows.heap, [{ minute: 1.5, series: 'heap used', value: 1 }], 'heap total absent: left out')
  t.same(rows.loop, [{ minute: 1.5, series: 'p99', value: 12.5 }, { minute: 1.5, series: 'max', value: 500 }])
  t.same(rows.fds, [{ minute: 1.5, series: 'open fds', value: 99 }])
  t.same(rows.lag, [{ minute: 1.5, series: 'slot lag', value: 2 }])

  const plan = planSoak(10 * 60_000)
  const spec = soakChartSpec([s], plan, 'title') as unknown as { vconcat: Array<{ layer: Array<{ data: { values: unknown[] }; encoding: { x?: { scale?: { domain: number[] } }; y?: { title: string } } }> }> }
  t.equal(spec.vconcat.length, PANELS.length, 'one panel per figure')
  t.same(spec.vconcat.map((p) => p.layer[2]!.encoding.y!.title), PANELS.map((p) => p.title), 'every y axis names its unit')
  t.same(spec.vconcat[0]!.layer[0]!.data.values, [{ from: 0, to: 2 }], 'the warm-up (a fifth of 10 min) is shaded')
  t.equal(spec.vconcat[0]!.layer[1]!.data.values.length, plan.events.length, 'every storm and spike is marked')
  t.same(spec.vconcat[0]!.layer[2]!.encoding.x!.scale!.domain, [0, 10], 'the x axis spans the whole run')
})

t.test('command line: --minutes or --seconds, positive numbers, at most the tokens\' life', async (t) => {
  const now = new Date('2026-12-02T05:00:00.123Z')
  const options = parseSoakArgs(['--minutes', '30'], undefined, now)
  t.equal(options.durationMs, 30 * 60_000)
  t.match(options.outDir, /bench\/results\/soak\/2026-12-02T05-00-00$/)
  t.same([options.rate, options.clients, options.spikeClients, options.escrows, options.sampleIntervalMs], [200, 200, 500, 50, 5000])
  const custom = parseSoakArgs(['--seconds', '20', '--rate', '50', '--out', '/tmp/x', '--sample-seconds', '0.5'], 'postgres://x', now)
  t.same([custom.durationMs, custom.rate, custom.outDir, custom.sampleIntervalMs, custom.databaseUrl], [20_000, 50, '/tmp/x', 500, 'postgres://x'])
  t.throws(() => parseSoakArgs([], undefined), { name: 'UsageError' }, 'a length is required')
  t.throws(() => parseSoakArgs(['--minutes', '1', '--seconds', '5'], undefined), { name: 'UsageError' }, 'not both')
  t.throws(() => parseSoakArgs(['--minutes', '0'], undefined), /--minutes: expected a positive number/)
  t.throws(() => parseSoakArgs(['--minutes', String(MAX_MINUTES + 1)], undefined), /at most 50/)
  t.throws(() => parseSoakArgs(['--minutes', '1', '--rate', '1.5'], undefined), /--rate: expected a positive whole number/)
})

t.test('the BENCHMARKS.md section states the verdict, links the chart and the samples, and tabulates the figures', async (t) => {
  const mib = 2 ** 20
  const plan = planSoak(30 * 60_000)
  const samples = Array.from({ length: 361 }, (_, i) => sample(i * 5000, 150 * mib, { heapUsedBytes: 40 * mib, loopDelayP99Seconds: 0.02, loopDelayMaxSeconds: 0.05, openFds: 230, slotLagBytes: 4096 }))
  const verdict = soakVerdict(samples, plan.warmupMs, { ...CLEAN, received: 1_000_000 })
  const percentiles = { count: 1, p50: 3, p95: 9, p99: 20, p999: 40, max: 80 }
  const result = {
    startedAt: '2026-12-02T05:05:50.000Z',
    options: { durationMs: plan.durationMs, rate: 200, clients: 200, spikeClients: 500, escrows: 50, sampleIntervalMs: 5000 },
    machine: { cpu: 'cpu', cores: 2, memoryGb: 24, os: 'Linux', node: 'v20', postgres: '18.4' },
    plan,
    samples,
    events: [
      { kind: 'storm' as const, atMs: 105_000, recoveredMs: 1900 },
      { kind: 'spike' as const, atMs: 180_000, holdMs: 30_000, connected: 500, subscribeMs: percentiles, received: 54_592, gaps: 0, duplicates: 0, resets: 0, latency: percentiles },
    ],
    steady: { clients: 200, received: 900_000, missing: 0, duplicates: 0, resets: 0, reconnects: 1200, errors: 0, closeCodes: {}, latency: percentiles, lost: 0 },
    written: 360_000,
    verdict,
    files: undefined,
  }
  const text = soakSection(result, 'bench/results/soak/x/samples.json', 'bench/results/soak/x/soak.svg')
  t.match(text, /^## Soak/)
  t.match(text, /`npm run soak -- --minutes 30`/)
  t.match(text, /\*\*Verdict: PASS\*\*: RSS \+0\.0% after the warm-up \(target < 5%\), 0 gaps, 0 duplicates, 0 lost, 0 resets\./)
  t.match(text, /!\[walcast soak[^\]]*\]\(bench\/results\/soak\/x\/soak\.svg\)/)
  t.match(text, /\[samples\.json\]\(bench\/results\/soak\/x\/samples\.json\)/)
  t.match(text, /\| RSS after the warm-up [^|]*\| 150\.0 → 150\.0 MiB, \*\*\+0\.0%\*\* \(target < 5%: met\)/)
  t.match(text, /\| event-loop delay p99 per reading, after the warm-up \| median 20\.0 ms, max 20\.0 ms \|/)
  t.match(text, /\| events written \| 360,000 \(200\/s against 200\/s asked\) \|/)
  t.match(text, /every client subscribed again after 1\.9 s/)
  t.match(text, /500 subscribed \(p99 20 ms\), 54,592 events in 30 s, 0 gaps\/duplicates\/resets/)
})

t.test('the section\'s reproduce line repeats only the options that differ from the defaults', async (t) => {
  const plan = planSoak(20_000)
  const result = {
    startedAt: 'x', options: { durationMs: 20_000, rate: 50, clients: 200, spikeClients: 30, escrows: 50, sampleIntervalMs: 1000 },
    machine: { cpu: 'cpu', cores: 2, memoryGb: 24, os: 'Linux', node: 'v20', postgres: '18.4' }, plan, samples: [], events: [],
    steady: { clients: 200, received: 0, missing: 0, duplicates: 0, resets: 0, reconnects: 0, errors: 0, closeCodes: {}, latency: { count: 0, p50: 0, p95: 0, p99: 0, p999: 0, max: 0 }, lost: 0 },
    written: 0, verdict: soakVerdict([], plan.warmupMs, CLEAN), files: undefined,
  }
  t.match(soakSection(result, 'a/samples.json', 'a/soak.svg'), /Reproduce: `npm run soak -- --seconds 20 --rate 50 --spike-clients 30 --sample-seconds 1`/)
})
