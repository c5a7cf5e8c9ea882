import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Test } from 'tap'
import { writeReport, type BenchResults } from '../../bench/report.ts'

/**
 * BENCHMARKS.md as `writeReport` renders `results`, in a directory of its own that the test
 * removes; the results are saved beside it as `jsonName`, the file the report cites.
 */
export async function renderReport(t: Test, results: BenchResults, jsonName = 'run.json'): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'walcast-report-'))
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }))
  const json = path.join(dir, jsonName)
  await fs.writeFile(json, JSON.stringify(results))
  await writeReport(results, json, path.join(dir, 'BENCHMARKS.md'))
  return fs.readFile(path.join(dir, 'BENCHMARKS.md'), 'utf8')
}
