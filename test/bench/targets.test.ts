/**
 * The targets of issue #15 item 3 each get a row of the report's targets table, with a
 * verdict computed from the run's JSON (bench/targets.ts): on a real full run, on runs
 * that lack a phase or a peer, and on made-up figures on either side of each bound.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import type { BenchResults } from '../../bench/report.ts'
import { renderReport } from '../helpers/bench-report.ts'
import { issue15Targets, type TargetRow } from '../../bench/targets.ts'
import { fmt } from '../../bench/readings.ts'
import type { IdlePhase } from '../../bench/scenarios/clients.ts'
import { summarizeReplay, type ReplayRound } from '../../bench/scenarios/replay.ts'

const FULL = path.resolve('bench/results/2026-12-02T06-47-47-full.json')
const load = async (file: string): Promise<BenchResults> => JSON.parse(await fs.readFile(file, 'utf8')) as BenchResults
const row = (rows: TargetRow[], start: string): TargetRow => rows.find((r) => r.target.startsWith(start))!

t.test('the 2026-12-02 full run: one row per item-3 target, each verdict from its figure', async (t) => {
  const results = await load(FULL)
  const rows = issue15Targets(results)
  t.same(rows.map((r) => r.target.split(' ').slice(0, 3).join(' ')), [
    'CPU per live', 'catch-up ≥ 60,000', 'live end to', 'replay ≥ 150,000', 'server CPU per', 'idle RSS per', 'commit→client p99 ≤',
  ], 'the seven targets, in the issue\'s order')
  const backlog = results.ingest!.backlog
  t.equal(row(rows, 'catch-up').met, backlog.eventsPerSecond >= 60_000)
  t.match(row(rows, 'catch-up').measured, fmt(backlog.eventsPerSecond))
  const micros = (backlog.walcastCpu / 100) * backlog.drainSeconds * 1e6 / backlog.events
  t.match(row(rows, 'CPU per live').measured, `${fmt(micros)} µs`, 'without a live phase: CPU per event over the ingest drain')
  t.equal(row(rows, 'CPU per live').met, micros <= 10)
  t.equal(row(rows, 'live end').met, undefined, 'no live phase in this run: no verdict')
  t.equal(row(rows, 'replay').met, results.replay!.eventsPerSecond >= 150_000)
  t.equal(results.replay!.rounds, undefined, 'a result from before the replay had rounds')
  t.equal(row(rows, 'replay').measured, `${fmt(results.replay!.eventsPerSecond)} events/s (one round: 100,000 events, first after ${fmt(results.replay!.firstEventMs)} ms)`, 'its one replay, named as one round')
  const cpu = (kind: string) => { const r = results.fanout!.filter((p) => p.kind === kind); return r.reduce((a, p) => a + p.serverMicrosPerDelivery, 0) / r.length }
  t.equal(row(rows, 'server CPU').met, cpu('walcast') <= cpu('centrifugo') && cpu('walcast') <= 1.5 * cpu('uws-floor'))
  const idle = (kind: string) => (results.idle!.find((p) => p.kind === kind)! as IdlePhase).bytesPerConnection
  t.equal(row(rows, 'idle RSS').met, idle('walcast') * 10 <= idle('centrifugo'))
  const at2000 = results.latency!.filter((p) => p.kind === 'walcast' && p.eventsPerSecond === 2000 && p.clients === 1000)
  t.ok(at2000.length > 0, 'the full run measured 2,000 events/s × 1,000 clients')
  t.equal(row(rows, 'commit→client').met, at2000.reduce((a, p) => a + p.latency.p99, 0) / at2000.length <= 20)

  const report = await renderReport(t, results)
  const table = report.slice(report.indexOf('## Targets'), report.indexOf('## walcast / peers'))
  for (const r of rows) t.ok(table.includes(`| ${r.target} | ${r.measured} |`), `the table has the row: ${r.target}`)
  t.notMatch(table, /ingest ≥ 50,000|replay ≥ 100,000/, 'the older ingest and replay targets are replaced')
})

/** A run with every figure of the item-3 targets at the given values. */
function run(v: { live?: [number, number]; backlog: number; replay: number; fanout: [number, number | undefined, number | undefined]; idle: [number, number | undefined]; p99: number; rate?: number }): BenchResults {
  const phase = (kind: string, extra: object) => ({ system: kind, kind, round: 1, cpu: { server: 0, generator: 0 }, ...extra })
  return {
    profile: 'full', startedAt: '', durationSeconds: 0, command: '', errors: {},
    machine: {} as BenchResults['machine'],
    ingest: { backlog: { events: 100_000, rowsPerTransaction: 100, drainSeconds: 1, eventsPerSecond: v.backlog, walcastCpu: 50, writeSeconds: 1, peakRssMb: 1, postgresCpu: 1 } } as unknown as BenchResults['ingest'],
    ...(v.live === undefined ? {} : { live: { events: 10_000, rowsPerTransaction: 100, allEventsMs: 1, eventsPerSecond: v.live[0], serverMicrosPerEvent: v.live[1], missing: 0, duplicates: 0, cpu: { server: 1, generator: 1 } } }),
    replay: { events: 1000, firstEventMs: 1, allEventsMs: 1, eventsPerSecond: v.replay, missing: 0, duplicates: 0, serverCpu: 1, generatorCpu: 1 },
    fanout: [['walcast', v.fanout[0]], ['centrifugo', v.fanout[1]], ['uws-floor', v.fanout[2]]].filter(([, us]) => us !== undefined).map(([kind, us]) => phase(kind as string, { serverMicrosPerDelivery: us })) as unknown as BenchResults['fanout'],
    idle: [['walcast', v.idle[0]], ['centrifugo', v.idle[1]]].filter(([, b]) => b !== undefined).map(([kind, b]) => phase(kind as string, { bytesPerConnection: b })) as unknown as BenchResults['idle'],
    latency: [phase('walcast', { clients: 1000, eventsPerSecond: v.rate ?? 2000, latency: { p50: 1, p99: v.p99 } })] as unknown as BenchResults['latency'],
  }
}

t.test('each bound decides met or missed; a figure the run lacks gives no verdict', async (t) => {
  const good = issue15Targets(run({ live: [30_000, 10], backlog: 60_000, replay: 150_000, fanout: [4, 4, 4 / 1.5], idle: [100, 1000], p99: 20 }))
  t.same(good.map((r) => r.met), [true, true, true, true, true, true, true], 'at each bound exactly: met')
  const bad = issue15Targets(run({ live: [29_999, 10.01], backlog: 59_999, replay: 149_999, fanout: [4.01, 4, 4 / 1.5], idle: [101, 1000], p99: 20.01 }))
  t.same(bad.map((r) => r.met), [false, false, false, false, false, false, false], 'just past each bound: missed')
  t.match(row(good, 'CPU per live').measured, 'commit to delivery', 'with a live phase, CPU per event comes from it')

  const partial = issue15Targets(run({ backlog: 60_000, replay: 1, fanout: [4, undefined, 3], idle: [100, undefined], p99: 5, rate: 500 }))
  t.equal(row(partial, 'live end').met, undefined, 'no live phase')
  t.equal(row(partial, 'server CPU').met, undefined, 'Centrifugo not measured and the floor bound met: no verdict')
  t.match(row(partial, 'server CPU').measured, 'Centrifugo not measured')
  t.equal(row(partial, 'idle RSS').met, undefined)
  t.equal(row(partial, 'commit→client').met, undefined, 'latency measured at another rate: no verdict')
  const overFloor = issue15Targets(run({ backlog: 1, replay: 1, fanout: [7, undefined, 4], idle: [-5, 1000], p99: 5 }))
  t.equal(row(overFloor, 'server CPU').met, false, 'past 1.5× bare uWS is missed even without Centrifugo')
  t.equal(row(overFloor, 'idle RSS').met, undefined, 'a negative idle reading is not measurable')
  t.match(row(overFloor, 'idle RSS').measured, 'not measurable')
  const centrifugoFailed = run({ backlog: 1, replay: 1, fanout: [4, 4, 3], idle: [100, 1000], p99: 5 })
  centrifugoFailed.idle = [centrifugoFailed.idle![0]!, { system: 'Centrifugo', kind: 'centrifugo', round: 1, connections: 10_000, baseConnections: 2_000, failed: 'only 12 of 10000 clients connected' }]
  t.equal(row(issue15Targets(centrifugoFailed), 'idle RSS').met, undefined, 'a peer whose idle readings failed: no verdict, never met')
  t.match(row(issue15Targets(centrifugoFailed), 'idle RSS').measured, 'Centrifugo failed (only 12 of 10000 clients connected)')
  const empty = issue15Targets({ profile: 'smoke', startedAt: '', durationSeconds: 0, command: '', errors: {}, machine: {} as BenchResults['machine'] })
  t.same(empty.map((r) => r.met), [undefined, undefined, undefined, undefined, undefined, undefined, undefined], 'nothing measured: no verdict anywhere')
})

t.test('the replay row: the median of the rounds decides, and every round is shown', async (t) => {
  const round = (eventsPerSecond: number): ReplayRound => ({ events: 100_000, firstEventMs: 30, allEventsMs: Math.round(1e8 / eventsPerSecond), eventsPerSecond, missing: 0, duplicates: 0, serverCpu: 40, generatorCpu: 45 })
  const results = run({ backlog: 1, replay: 1, fanout: [4, 4, 3], idle: [100, 1000], p99: 5 })
  // One slow round (the host) does not miss the target; one fast round does not meet it.
  const met = row(issue15Targets({ ...results, replay: summarizeReplay([131_762, 167_000, 90_000, 170_100, 160_000].map(round)) }), 'replay')
  t.equal(met.measured, 'median of 5: 160,000 events/s; rounds: 131,762 / 167,000 / 90,000 / 170,100 / 160,000 (100,000 events each, first after 30 ms)')
  t.equal(met.met, true)
  const missed = row(issue15Targets({ ...results, replay: summarizeReplay([131_762, 190_000, 140_000].map(round)) }), 'replay')
  t.match(missed.measured, 'median of 3: 140,000 events/s; rounds: 131,762 / 190,000 / 140,000')
  t.equal(missed.met, false, 'a best round past the bound is not the figure')
})

t.test('the latency row says how hard the host was pressed when the phase recorded it', async (t) => {
  const results = run({ backlog: 1, replay: 1, fanout: [4, 4, 3], idle: [100, 1000], p99: 150 })
  t.notMatch(row(issue15Targets(results), 'commit→client').measured, 'CPU pressure', 'older results: no host figures')
  const latency = results.latency!.map((p) => ({ ...p, sched: { runPercent: { server: 30 }, waitPercent: { server: 45, generator: 50, postgres: 40 }, hostPressure: 92, loadAverage: 7, cores: 2 } }))
  const pressed = row(issue15Targets({ ...results, latency }), 'commit→client')
  t.match(pressed.measured, 'host CPU pressure 92%, server waiting for a core 45% of the time')
  t.equal(pressed.met, false, 'the verdict is still the figure\'s')
})
