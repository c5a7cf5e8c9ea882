// Where one event's commit→client time goes, stage by stage, from a trace written by a
// walcast built with bench/patches/latency-trace.patch (a throwaway instrument, not part
// of walcast: `git apply` it in a scratch copy of the tree, then run the latency phase
// with WALCAST_TRACE_FILE set, e.g.
//   WALCAST_TRACE_FILE=/tmp/trace.csv BENCH_LATENCY_SYSTEMS=walcast BENCH_LATENCY_RATES=2000 \
//     BENCH_LATENCY_SECONDS=10 npm run bench -- --only latency --no-centrifugo
// ), then: node --import tsx bench/latency-stages.ts /tmp/trace.csv
// One line per event: released_at (the writer's clock_timestamp(), as the payload carries
// it), the commit time (BEGIN), the batch's write start, append resolved and publish done,
// the batch's size, the walsender's send time (XLogData header) and the arrival at
// walcast's socket; all on the wall clock Postgres and walcast share (ms). The clients'
// own share is the latency phase's figure minus "released → published".
import fs from 'node:fs'

const file = process.argv[2]
if (file === undefined) throw new Error('usage: latency-stages.ts TRACE.csv')

interface Row { released: number; commit: number; handled: number; start: number; appended: number; published: number; batch: number; sent: number; arrived: number }

const rows: Row[] = []
for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
  const f = line.split(',')
  if (f.length < 9 || f[0] === '') continue
  const n = f.slice(1).map(Number)
  rows.push({ released: Date.parse(f[0]!), commit: n[0]!, handled: n[1]!, start: n[2]!, appended: n[3]!, published: n[4]!, batch: n[5]!, sent: n[6]!, arrived: n[7]! })
}
// The first events of a phase meet cold caches and a fresh connection.
const kept = rows.slice(Math.floor(rows.length * 0.02))

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

const stages: Array<[string, (r: Row) => number]> = [
  ['released → commit (the writer\'s backend)', (r) => r.commit - r.released],
  ['commit → walsender sends', (r) => r.sent - r.commit],
  ['walsender sends → walcast reads it', (r) => r.arrived - r.sent],
  ['walcast reads → commit handled', (r) => r.handled - r.arrived],
  ['commit handled → batch write starts', (r) => r.start - r.handled],
  ['history append round trip', (r) => r.appended - r.start],
  ['appended → published', (r) => r.published - r.appended],
  ['released → published (the server\'s share)', (r) => r.published - r.released],
]
const batches = kept.map((r) => r.batch)
process.stdout.write(`${kept.length} events; batch size p50 ${quantile(batches, 0.5)} p99 ${quantile(batches, 0.99)}\n`)
for (const [name, of] of stages) {
  const values = kept.map(of)
  const mean = values.reduce((a, b) => a + b, 0) / values.length
  process.stdout.write(`${name.padEnd(46)} mean ${mean.toFixed(2).padStart(7)}  p50 ${quantile(values, 0.5).toFixed(2).padStart(7)}  p90 ${quantile(values, 0.9).toFixed(2).padStart(7)}  p99 ${quantile(values, 0.99).toFixed(2).padStart(7)} ms\n`)
}
