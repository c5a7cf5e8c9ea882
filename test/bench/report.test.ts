/**
 * The report's own rules, on real results from bench/results/: readings that cannot be
 * negative never print as negative figures, sections run 1 to 7 in order, a run
 * without Centrifugo says so and how to build it, and a replay measured before the phase
 * had rounds still renders.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import t, { type Test } from 'tap'
import { fmt, fmtRatio, measurable, NEGATIVE_REASONS, nonNegative } from '../../bench/readings.ts'
import { systemsParagraph, type BenchResults } from '../../bench/report.ts'
import { renderReport } from '../helpers/bench-report.ts'
import type { IdlePhase } from '../../bench/scenarios/clients.ts'
import { summarizeReplay, type ReplayRound } from '../../bench/scenarios/replay.ts'

const RESULTS = path.resolve('bench/results')
// The full run whose idle phase read the host's TCP memory 105 bytes per connection lower after than before.
const NEGATIVE_KERNEL = path.join(RESULTS, '2026-11-22T07-44-38-full.json')

async function render(t: Test, jsonPath: string): Promise<{ results: BenchResults; report: string }> {
  const results = JSON.parse(await fs.readFile(jsonPath, 'utf8')) as BenchResults
  return { results, report: await renderReport(t, results, path.basename(jsonPath)) }
}

t.test('nonNegative: a negative reading is "not measurable" with its reason; others print as figures', async (t) => {
  t.equal(nonNegative(-105, NEGATIVE_REASONS.kernel), `not measurable (${NEGATIVE_REASONS.kernel})`)
  t.equal(nonNegative(-0.5, 'why'), 'not measurable (why)')
  t.equal(nonNegative(0, 'why'), '0')
  t.equal(nonNegative(1582, 'why'), '1,582')
  t.equal(nonNegative(2048, 'why', (n) => `${fmt(n / 1024)} KiB`), '2 KiB')
  t.equal(nonNegative(undefined, 'why'), 'n/a')
  t.equal(nonNegative(Number.NaN, 'why'), 'n/a')
  t.equal(measurable(-1), undefined, 'not usable in a ratio or a target')
  t.equal(measurable(12), 12)
})

t.test('fmtRatio: a small ratio keeps two significant digits instead of printing as 0', async (t) => {
  t.equal(fmtRatio(0.0043), '0.0043')
  t.equal(fmtRatio(0.0456), '0.046')
  t.equal(fmtRatio(0.39), '0.39')
  t.equal(fmtRatio(9.703), '9.7')
})

t.test('a real run with a negative kernel reading: reported as not measurable, never as a figure', async (t) => {
  const { results, report } = await render(t, NEGATIVE_KERNEL)
  const walcast = results.idle!.find((p) => p.kind === 'walcast')! as IdlePhase
  t.ok(walcast.kernelBytesPerConnection < 0, 'the saved reading is negative (the case this test is about)')
  const idleSection = report.slice(report.indexOf('## 4. Memory per idle connection'), report.indexOf('## 5.'))
  const walcastRow = idleSection.split('\n').find((line) => line.startsWith('| walcast |'))!
  t.match(walcastRow, `not measurable (${NEGATIVE_REASONS.kernel})`)
  t.notMatch(walcastRow, /\|\s*-\d/, 'no negative figure in the row')
  const tableCells = report.split('\n').filter((line) => line.startsWith('|')).flatMap((line) => line.split('|').map((cell) => cell.trim()))
  t.same(tableCells.filter((cell) => /^[-−]\d/.test(cell)), [], 'no table cell of the report is a negative number')
})

t.test('sections run 1, 2, … 9 in order, after the targets and ratios and before the findings', async (t) => {
  for (const file of (await fs.readdir(RESULTS)).filter((name) => name.endsWith('.json'))) {
    const { results, report } = await render(t, path.join(RESULTS, file))
    const numbered = [...report.matchAll(/^## (\d+)\. /gm)].map((m) => Number(m[1]))
    const present = ['ingest', 'latency', 'fanout', 'idle', 'replay', 'slow', 'loss', 'scale', 'trading'].map((key, i) => (results as unknown as Record<string, unknown>)[key] === undefined ? undefined : i + 1).filter((n) => n !== undefined)
    t.same(numbered, present, `${file}: sections ${present.join(', ')} in order`)
    const headings = [...report.matchAll(/^## (.+)$/gm)].map((m) => m[1]!)
    t.ok(headings.indexOf('Targets (reported, not asserted)') < headings.findIndex((h) => /^\d/.test(h)), `${file}: targets first`)
    t.ok(headings.findIndex((h) => h.startsWith('Findings')) > headings.findLastIndex((h) => /^\d/.test(h)), `${file}: findings after the measured sections`)
  }
})

t.test('a run without Centrifugo names it as not measured and says how to build it', async (t) => {
  const { report } = await render(t, NEGATIVE_KERNEL)
  t.match(report, /\*\*Centrifugo was not measured in this run\*\*/)
  t.match(report, 'go install github.com/centrifugal/centrifugo/v6@v6.9.1')
  const text = systemsParagraph({ systems: [{ kind: 'walcast', label: 'walcast' }, { kind: 'socketio', label: 'Socket.IO + NOTIFY' }], notMeasured: { centrifugo: 'no centrifugo binary' } })
  t.match(text, 'not measured in this run**: no centrifugo binary')
  t.match(text, 'A B A B')
  const three = systemsParagraph({ systems: [{ kind: 'walcast', label: 'walcast' }, { kind: 'socketio', label: 'Socket.IO + NOTIFY' }, { kind: 'centrifugo', label: 'Centrifugo', version: 'Centrifugo v6.9.1' }], notMeasured: {} })
  t.match(three, 'A B C A B C')
  t.match(three, 'Centrifugo build: Centrifugo v6.9.1')
  t.notMatch(three, 'not measured')
})

t.test('the idle section says which method its run used: fresh instances read at two sizes, or one delta in the long-running process', async (t) => {
  const old = await render(t, NEGATIVE_KERNEL)
  const oldSection = old.report.slice(old.report.indexOf('## 4. Memory per idle connection'), old.report.indexOf('## 5.'))
  t.match(oldSection, 'since replaced by readings on fresh instances', 'an older run keeps its own method, named as replaced')
  t.match(oldSection, '| system | connections | RSS before MB | RSS after MB |')

  const results = JSON.parse(await fs.readFile(NEGATIVE_KERNEL, 'utf8')) as BenchResults
  const stepped = (kind: string, label: string, rss: [number, number, number], bytes: number) => ({
    system: label, kind, round: 1, connections: 10_000, baseConnections: 2_000, rssBeforeMb: rss[0], rssBaseMb: rss[1], rssAfterMb: rss[2],
    bytesPerConnection: bytes, fromZeroBytesPerConnection: bytes - 100, kernelBytesPerConnection: 50, heapBytesPerConnection: kind === 'centrifugo' ? undefined : bytes / 2,
  })
  results.idle = [stepped('walcast', 'walcast', [100, 105, 130], 3_000), stepped('centrifugo', 'Centrifugo', [150, 230, 600], 48_000)]
  const report = await renderReport(t, results)
  const section = report.slice(report.indexOf('## 4. Memory per idle connection'), report.indexOf('## 5.'))
  t.match(section, 'fresh instance of its own')
  t.match(section, 'growth from 2,000 to 10,000 connections over the 8,000 added')
  t.match(section, '/debug/pprof/heap?gc=1', 'Centrifugo collects before its readings too')
  t.match(section, '| walcast | 100 / 105 / 130 | 3,000 | 2,900 | 1,500 | 50 |')
  t.match(report, /\| idle RSS per subscribed connection ≤ 1\/10 of Centrifugo's \| walcast 3,000 bytes, Centrifugo 48,000 bytes \(1\/16\) per connection added from 2,000 to 10,000, fresh processes \(§4\) \| met \|/)

  // A peer that could not hold the clients: its row says so, the others keep their figures.
  const failed = { system: 'Socket.IO + NOTIFY', kind: 'socketio', round: 1, connections: 10_000, baseConnections: 2_000, failed: 'only 9,412 of 10000 clients connected' }
  results.idle = [results.idle[0]!, failed, results.idle[1]!]
  results.errors = { idle: 'Socket.IO + NOTIFY: only 9,412 of 10000 clients connected' }
  const withFailure = await renderReport(t, results)
  const failedSection = withFailure.slice(withFailure.indexOf('## 4. Memory per idle connection'), withFailure.indexOf('## 5.'))
  t.match(failedSection, '| walcast | 100 / 105 / 130 | 3,000 | 2,900 | 1,500 | 50 |', 'walcast keeps its row')
  t.match(failedSection, '| Socket.IO + NOTIFY | failed: only 9,412 of 10000 clients connected | — | — | — | — |', 'the failed peer has a row saying why, and no figure')
  t.match(failedSection, /\| Centrifugo \| 150 \/ 230 \/ 600 \| 48,000 \|/, 'and so does the system after it')
  t.match(withFailure, /\| idle RSS per subscribed connection ≤ 1\/10 of Centrifugo's \| walcast 3,000 bytes, Centrifugo 48,000 bytes .* \| met \|/, 'the target is judged on the figures that exist')
  // This run's peers are walcast's and Socket.IO's (no Centrifugo in its latency phase).
  t.match(withFailure, '| ≤ 4 KiB RSS per idle connection | 2.93 KiB from 2,000 to 10,000 connections (Socket.IO + NOTIFY failed (§4)) | met |')
  t.match(withFailure, '- idle: Socket.IO + NOTIFY: only 9,412 of 10000 clients connected', 'listed with the run\'s failures')
  t.notMatch(withFailure, /RSS per idle connection \| [^|]*\| [^|]*Socket/, 'no ratio against the failed peer')

  // walcast itself failed: no figure, no verdict ("met" never comes from a missing figure).
  results.idle = [{ ...failed, system: 'walcast', kind: 'walcast', failed: 'a fresh instance could not start (port in use)' }, results.idle[2]!]
  const walcastFailed = await renderReport(t, results)
  t.match(walcastFailed, '| ≤ 4 KiB RSS per idle connection | walcast failed (§4) (Socket.IO + NOTIFY n/a) | — |')
  t.match(walcastFailed, /\| idle RSS per subscribed connection ≤ 1\/10 of Centrifugo's \| walcast failed \(a fresh instance could not start \(port in use\)\) \(§4\) \| — \|/)
  t.match(walcastFailed, '| walcast | failed: a fresh instance could not start (port in use) | — | — | — | — |')
})

t.test('§5 Replay: an older result keeps its one replay; a result with rounds lists each and reports the median', async (t) => {
  // The 18:28 full run measured one replay, before the phase had rounds.
  const old = await render(t, path.join(RESULTS, '2026-12-02T18-28-53-full.json'))
  t.equal(old.results.replay!.rounds, undefined, 'the saved result has no rounds (the case this test is about)')
  const oldSection = old.report.slice(old.report.indexOf('## 5. Replay'), old.report.indexOf('## 5b.'))
  t.match(oldSection, '- walcast: **131,762 events/s** (one round); first event after 32 ms (connect + token check + first history page); all after 759 ms; gaps 0, duplicates 0; CPU over the replay: walcast 41.6%, load generator 45.5% (of one core)')
  t.notMatch(oldSection, '| round |', 'no rounds table for one replay')
  t.match(oldSection, 'This run measured one replay; the phase now runs several to new clients (`BENCH_REPLAY_ROUNDS`, default 5) and reports their median.')
  t.match(old.report, '| replay ≥ 150,000 events/s to one client | 131,762 events/s (one round: 100,000 events, first after 32 ms) | **missed** |')

  const round = (eventsPerSecond: number, serverMicrosPerEvent: number): ReplayRound => ({
    events: 100_000, firstEventMs: 30, allEventsMs: Math.round(1e8 / eventsPerSecond), eventsPerSecond, missing: 0, duplicates: 0,
    serverCpu: 40, generatorCpu: 45, serverMicrosPerEvent, generatorMicrosPerEvent: 4.5, postgresMicrosPerEvent: 6,
  })
  const results = { ...old.results, replay: summarizeReplay([round(131_762, 3.1), round(167_000, 2.9), round(90_000, 3.4), round(170_100, 2.8), round(160_000, 3)]) }
  const report = await renderReport(t, results)
  const section = report.slice(report.indexOf('## 5. Replay'), report.indexOf('## 5b.'))
  t.match(section, '5 rounds, each a new client replaying the same history from its start')
  t.match(section, '- walcast: **160,000 events/s, median of 5** (rounds: 131,762 / 167,000 / 90,000 / 170,100 / 160,000); first event after 30 ms, all after 625 ms (medians); gaps 0, duplicates 0 over all rounds; CPU per event (medians): walcast 3 µs, Postgres 6 µs, load generator 4.5 µs')
  t.match(section, '| round | events | events/s | first event ms | all ms | gaps | dups | walcast CPU % | walcast µs/event | Postgres µs/event | generator CPU % | generator µs/event |')
  t.match(section, '| 3 | 100,000 | 90,000 | 30 | 1,111 | 0 | 0 | 40 | 3.4 | 6 | 45 | 4.5 |', 'the slow round keeps its own row')
  t.equal(section.split('\n').filter((line) => /^\| \d /.test(line)).length, 5, 'one row per round')
  t.match(report, '| replay ≥ 150,000 events/s to one client | median of 5: 160,000 events/s; rounds: 131,762 / 167,000 / 90,000 / 170,100 / 160,000 (100,000 events each, first after 30 ms) | met |')
  t.match(report, 'BENCH_REPLAY_ROUNDS=9 npm run bench -- --only replay', 'Reproduce says how to set the rounds')
})
