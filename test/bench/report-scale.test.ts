/**
 * §8 of the report (bench/report-scale.ts) from a synthetic results object: the figures
 * land in their columns, the bus's added latency is gateway − ingesting node, the
 * CPU-bound verdict names the process that bound the step, and a run without Redis says
 * so instead of printing an empty table.
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { cpuVerdict, SCALE_HEADING, scaleSection } from '../../bench/report-scale.ts'
import { writeReport, type BenchResults } from '../../bench/report.ts'
import type { ScaleResult, ScaleStep } from '../../bench/scenarios/scale.ts'

const pct = (p50: number, p99: number) => ({ count: 1000, p50, p95: p99, p99, p999: p99, max: p99 })

function step(nodes: number, overrides: Partial<ScaleStep> = {}): ScaleStep {
  return {
    nodes, subscribers: 500, eventsPerSecond: 100, events: 300, offeredDeliveries: 150_000, deliveries: 150_000, deliveriesPerSecond: 49_800,
    missing: 0, duplicates: 0, serverMicrosPerDelivery: 9.5 + nodes,
    cpu: { nodes: Array.from({ length: nodes }, (_, i) => (i === 0 ? 60 : 30)), redis: 4, generator: 70 },
    latency: nodes === 1 ? { ingest: pct(2.1, 9) } : { ingest: pct(2.5, 10), gateway: pct(3.75, 14.5) },
    ...(nodes === 1 ? {} : { busDelta: pct(1.25, 4.5) }),
    ...overrides,
  }
}

const measured: ScaleResult = {
  steps: [step(1), step(2), step(3, { cpu: { nodes: [95, 40, 40], redis: 5, generator: 20 } })],
  storm: {
    clients: 1000, nodes: 3, missedPerClient: 20, expected: 20_000, delivered: 20_000, lost: 0, duplicates: 0, resets: 0, caughtUpMs: 1234,
    reads: { method: 'pg_stat_statements', eventReads: { calls: 0, rows: 0 }, other: { calls: 3010, rows: 2800 } },
  },
}

t.test('the measured section: one row per node count, the bus delta, the storm and how reads were counted', async (t) => {
  const text = scaleSection(measured, 2).join('\n')
  t.ok(text.startsWith(SCALE_HEADING))
  const rows = text.split('\n').filter((line) => /^\| [123] \| /.test(line))
  t.equal(rows.length, 3, 'a row per node count')
  t.match(rows[0], '| 1 | 150,000 | 150,000 | 49,800 | 0 | 0 | 10.5 | 60 | 4 | 70 | n/a | 2.1 / 9 | — | — |')
  t.match(rows[1], '| 2.5 / 10 | 3.75 / 14.5 | +1.25 / +4.5 |')
  t.match(rows[2], '| 95 / 40 / 40 |')
  t.match(rows[2], 'CPU-bound: the ingesting node used 95% of one core')
  t.match(text, '2 nodes: p50 +1.25 ms, p99 +4.5 ms', 'the bus, per event: gateway − ingesting node')
  t.match(text, 'counted with **pg_stat_statements**')
  t.match(text, '| 1,000 | 3 | 20 | 20,000 | 20,000 | 0 | 0 | 0 | 1,234 | 0 / 0 | 3,010 / 2,800 |')
  t.match(text, 'the nodes read 0 page(s) (0 rows)')
  t.match(text, 'On this 2-core machine')
})

t.test('the CPU verdict: one saturated process, the cores together, or neither', async (t) => {
  t.match(cpuVerdict(step(1, { cpu: { nodes: [99], redis: 1, generator: 40 } }), 2), /^CPU-bound: the ingesting node used 99%/)
  t.match(cpuVerdict(step(3, { cpu: { nodes: [60, 50, 50], redis: 5, generator: 20 } }), 2), /^CPU-bound: these processes together used 185% of the 2 cores' 200%/)
  t.match(cpuVerdict(step(2, { cpu: { nodes: [20, 10], redis: 1, generator: 92 } }), 2), /^CPU-bound: the load generator used 92%/)
  t.match(cpuVerdict(step(2, { cpu: { nodes: [20, 10], redis: 1, generator: 30, host: 97 } }), 2), /^CPU-bound: the host's 2 cores were 97% busy; these processes used 61% of 200%/)
  t.match(cpuVerdict(step(2, { cpu: { nodes: [20, 10], redis: 1, generator: 30 } }), 4), /^not CPU-bound by these processes \(61% of 400%; busiest: load generator, 30%\)/)
})

t.test('database counters instead of statements: said so, and no page count is invented', async (t) => {
  const text = scaleSection({ steps: [], storm: { ...measured.storm!, reads: { method: 'pg_stat_database', other: { calls: 2000, rows: 9000 } } } }, 2).join('\n')
  t.match(text, 'counted with **pg_stat_database**')
  t.match(text, '| n/a | 2,000 / 9,000 |')
  t.notMatch(text, 'the nodes read')
})

t.test('Redis missing: a "not measured" line under the heading, and the report places §8 after §7', async (t) => {
  const text = scaleSection({ notMeasured: 'no redis-server' }, 2)
  t.same(text, [SCALE_HEADING, '', 'Not measured in this run: no redis-server.', ''])
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'walcast-report-scale-'))
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }))
  const results: BenchResults = {
    profile: 'quick', startedAt: '2026-12-02T03:00:00.000Z', durationSeconds: 60, command: 'npm run bench -- --quick',
    machine: { cpu: 'test', cores: 2, memoryGb: 8, os: 'Linux', node: 'v22', postgres: '18' },
    errors: {}, scale: { notMeasured: 'no redis-server' },
  }
  const json = path.join(dir, 'run.json')
  await fs.writeFile(json, JSON.stringify(results))
  await writeReport(results, json, path.join(dir, 'BENCHMARKS.md'))
  const report = await fs.readFile(path.join(dir, 'BENCHMARKS.md'), 'utf8')
  t.match(report, `${SCALE_HEADING}\n\nNot measured in this run: no redis-server.`)
  t.ok(report.indexOf(SCALE_HEADING) < report.indexOf('## Findings'), 'before the findings')
})
