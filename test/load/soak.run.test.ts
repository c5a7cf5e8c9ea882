/**
 * `npm run soak` end to end for 20 seconds on the test server: walcast, the writer, the
 * steady clients with two reconnect storms and two fan-out spikes; the samples, the chart
 * and the verdict it writes. Memory growth over 20 s says nothing about a leak, so only
 * that it was measured is checked here; delivery must be exact.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { PANELS } from '../../load/node/soak/chart.ts'
import { runSoak, type SoakResult } from '../../load/node/soak/soak.ts'
import { adminUrl } from '../helpers/db.ts'

/** Tags balance and every attribute is quoted: enough to tell a truncated or broken SVG. */
function wellFormed(xml: string): string | undefined {
  const stack: string[] = []
  const body = xml.replace(/<\?xml[^>]*\?>/, '').replace(/<!--[\s\S]*?-->/g, '')
  for (const m of body.matchAll(/<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"]*")*)\s*(\/?)>/g)) {
    const [, closing, name, , selfClosing] = m
    if (selfClosing === '/') continue
    if (closing === '/') {
      if (stack.pop() !== name) return `</${name}> closes nothing open`
    } else stack.push(name!)
  }
  if (stack.length > 0) return `unclosed <${stack.at(-1)}>`
  const stray = body.replace(/<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"]*")*)\s*(\/?)>/g, '')
  if (stray.includes('<')) return 'a tag that does not parse'
  return undefined
}

const out = await fs.mkdtemp(path.join(os.tmpdir(), 'walcast-soak-'))
t.teardown(() => fs.rm(out, { recursive: true, force: true }))

const result = await runSoak({
  durationMs: 20_000, rate: 50, clients: 20, spikeClients: 30, escrows: 5, sampleIntervalMs: 1000,
  databaseUrl: adminUrl(), outDir: out,
})
// Read the files before the first assertion (tap ends an idle root test early).
const saved = JSON.parse(await fs.readFile(result.files!.json, 'utf8')) as SoakResult
const svg = await fs.readFile(result.files!.svg, 'utf8')

t.test('the samples: every few seconds, each with walcast\'s RSS, heap, loop delay, open fds and slot lag', async (t) => {
  t.ok(result.samples.length >= 15 && result.samples.length <= 22, `about one per second over 20 s (${result.samples.length})`)
  t.ok(result.samples.every((s, i) => i === 0 || s.tMs > result.samples[i - 1]!.tMs), 'in time order')
  // A scrape that failed (timed out on a busy machine) leaves a whole sample empty, never half of one.
  const scraped = result.samples.filter((s) => s.rssBytes !== null)
  t.ok(scraped.length >= result.samples.length - 2, `at most two scrapes missed (${result.samples.length - scraped.length})`)
  t.ok(result.samples.every((s) => s.rssBytes !== null || (s.heapUsedBytes === null && s.openFds === null && s.loopDelayP99Seconds === null)), 'a missed scrape is missed whole')
  for (const field of ['rssBytes', 'heapUsedBytes', 'heapTotalBytes', 'openFds'] as const) {
    t.ok(scraped.every((s) => s[field] !== null && s[field]! > 0), `${field} in every scraped sample`)
  }
  t.ok(scraped.every((s) => s.loopDelayP99Seconds !== null && s.loopDelayMaxSeconds! >= s.loopDelayP99Seconds), 'loop delay p99 and max in every scraped sample')
  t.ok(scraped.filter((s) => s.slotLagBytes !== null).length >= scraped.length / 2, 'slot lag in most samples')
  t.ok(result.samples.at(-1)!.written > 0 && result.samples.at(-1)!.received! > 0, 'the writer and clients\' progress')
  const duringSpike = result.samples.some((s) => (s.connections ?? 0) >= 20 + 30)
  t.ok(duringSpike, 'a spike\'s clients show in walcast\'s connection count')
  t.same(saved.samples, JSON.parse(JSON.stringify(result.samples)), 'samples.json holds the same samples')
  t.same(saved.verdict, JSON.parse(JSON.stringify(result.verdict)), 'and the verdict')
})

t.test('the scenarios: two reconnect storms the clients came back from, two fan-out spikes that got events', async (t) => {
  const storms = result.events.filter((e) => e.kind === 'storm')
  const spikes = result.events.filter((e) => e.kind === 'spike')
  t.equal(storms.length, 2)
  t.equal(spikes.length, 2)
  t.ok(storms.every((s) => s.recoveredMs !== undefined), 'every steady client resubscribed after each storm')
  t.ok(result.steady.reconnects >= 2 * 20, `each storm dropped every steady client (${result.steady.reconnects} reconnects)`)
  for (const spike of spikes) {
    t.equal(spike.connected, 30, 'every spike client subscribed')
    t.ok(spike.received > 0, 'spike clients got events')
    t.equal(spike.gaps + spike.duplicates + spike.resets, 0, 'spike streams exact')
  }
})

t.test('the verdict: exact delivery, memory measured after the warm-up', async (t) => {
  const v = result.verdict
  t.same({ gaps: v.gaps, duplicates: v.duplicates, lost: v.lost, resets: v.resets }, { gaps: 0, duplicates: 0, lost: 0, resets: 0 })
  t.ok(v.correct)
  t.ok(v.received >= result.written, 'every written event reached at least one client')
  t.equal(result.steady.lost, 0, 'every steady client accepted every event of its topics')
  t.ok(v.rss !== undefined && Number.isFinite(v.rss.growthPercent) && v.rss.baseline > 0, 'RSS growth after the warm-up computed')
  t.ok(v.heapUsed !== undefined && v.heapUsed.baseline > 0, 'heap growth too')
  t.equal(v.rssTargetPercent, 5)
  t.equal(v.pass, v.correct && v.rssWithinTarget)
})

t.test('the chart: a well-formed SVG with every panel, its series and the warm-up', async (t) => {
  t.match(svg, /^<svg[\s\S]*<\/svg>\s*$/)
  t.equal(wellFormed(svg), undefined, 'well formed')
  for (const panel of PANELS) {
    t.ok(svg.includes(`>${panel.title}<`), `y axis: ${panel.title}`)
    for (const series of panel.series) t.ok(svg.includes(`>${series.name}<`), `legend: ${series.name}`)
  }
  t.ok(svg.includes('minutes since start'), 'x axis titled')
  t.match(svg, /warm-up \(first 0\.067 min\)/, 'the warm-up named in the subtitle')
  t.ok(svg.includes('>reconnect storm<') && svg.includes('>fan-out spike<'), 'the events in the legend')
  const lines = svg.match(/<path[^>]*aria-roledescription="line mark"[^>]*d="M[^"]+"/g) ?? []
  t.ok(lines.length >= 7, `a drawn line per series (${lines.length})`)
})

t.test('the command refuses bad arguments with exit 2 before starting anything', async (t) => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'load/node/soak/run.ts', '--minutes', '0'], { encoding: 'utf8', timeout: 60_000 })
  t.equal(run.status, 2)
  t.match(run.stderr, /--minutes: expected a positive number[\s\S]*usage: npm run soak -- --minutes 30/)
})
