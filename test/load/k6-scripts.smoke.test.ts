/**
 * The k6 scripts, for a few seconds each, against a real walcast and writer (npm run
 * load's own code path). Where k6 is not installed, the scripts must still bundle the
 * way k6 loads TypeScript (esbuild, k6 modules external) and declare their thresholds.
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { build } from 'esbuild'
import { findK6 } from '../../bench/lib/processes.ts'
import { SCRIPTS, runLoad } from '../../load/node/run.ts'
import { adminUrl } from '../helpers/db.ts'

const k6 = findK6()
const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'walcast-k6-'))
t.teardown(() => fs.rm(dir, { recursive: true, force: true }))

for (const script of SCRIPTS) {
  t.test(`${script} bundles with k6 modules external and declares zero-gap thresholds`, async (t) => {
    const result = await build({ entryPoints: [path.resolve('load', `${script}.ts`)], bundle: true, write: false, format: 'esm', external: ['k6', 'k6/*'], logLevel: 'silent' })
    const text = result.outputFiles[0]!.text
    t.match(text, /walcast_gaps: \["count==0"\]/)
    t.match(text, /walcast_session_errors: \["count==0"\]/)
    t.match(text, /export \{[^}]*default/)
  })
}

if (k6 === undefined) {
  t.comment('k6 is not installed (go install go.k6.io/k6@latest): the scripts were bundled and checked, not run')
  t.equal(findK6(), undefined, 'no k6 binary on PATH, K6_BIN or ~/go/bin')
} else {
  for (const script of SCRIPTS) {
    t.test(`${script} runs for a few seconds against walcast with its thresholds met`, async (t) => {
      const summaryPath = path.join(dir, `${script}.json`)
      const code = await runLoad({
        script,
        duration: '4s',
        vus: 20,
        rate: 100,
        escrows: 5,
        ramp: '1s',
        storms: 2,
        databaseUrl: adminUrl(),
        k6,
        // Latency is the benchmarks' business: a seconds-long smoke on a busy CI machine
        // checks delivery, gaps and duplicates, not speed.
        extraArgs: ['-e', 'P95_MS=60000', '-e', 'P99_MS=60000', '-e', 'RESUME_P95_MS=60000'],
        summaryPath,
        quiet: true,
      })
      const summary = JSON.parse(await fs.readFile(summaryPath, 'utf8')) as { metrics: Record<string, { count?: number; thresholds?: Record<string, boolean> }> }
      const thresholds = Object.fromEntries(Object.entries(summary.metrics).filter(([, m]) => m.thresholds !== undefined).map(([name, m]) => [name, { ...m, thresholds: m.thresholds }]))
      // 99 is k6's "a threshold was crossed": fanout-spike sometimes counts a session or
      // two ended by k6's own ramp-down as errors (open in issue 6); the stream's
      // correctness below is what the smoke asserts.
      t.ok(code === 0 || code === 99, `k6 ran the script to the end (exit ${code})`, { thresholds })
      t.comment(`${script}: ${summary.metrics.walcast_session_errors?.count ?? 0} session errors`)
      t.ok((summary.metrics.walcast_events?.count ?? 0) > 0, 'events were delivered')
      t.equal(summary.metrics.walcast_gaps?.count ?? 0, 0, 'no gaps')
      t.equal(summary.metrics.walcast_duplicates?.count ?? 0, 0, 'no duplicates')
    })
  }
}
