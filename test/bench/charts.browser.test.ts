/**
 * The report's SVG charts as a reader sees them: each one generated from every saved run
 * in bench/results/ is rendered in Debian's Chromium, and every text label must be whole
 * (vega shortens a label past its limit with "…") and lie inside the SVG's viewBox.
 */
import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { browserPage, CHROMIUM } from '../helpers/chromium.ts'
import { ratioBars, renderSvg } from '../../bench/charts.ts'
import { writeReport, type BenchResults } from '../../bench/report.ts'

const RESULTS = path.resolve('bench/results')

interface Label { readonly text: string; readonly left: number; readonly top: number; readonly right: number; readonly bottom: number }

t.test('every label of every generated chart is whole and inside its viewBox, rendered in Chromium', async (t) => {
  t.ok(existsSync(CHROMIUM), `${CHROMIUM} is installed (Debian's chromium; .ci/run installs it)`)
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'walcast-charts-'))
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }))
  const page = await browserPage(t)

  const svgs: Array<{ name: string; svg: string }> = []
  const runs = (await fs.readdir(RESULTS)).filter((name) => name.endsWith('.json'))
  t.ok(runs.length > 0, 'saved runs to render')
  for (const run of runs) {
    const out = path.join(dir, run.replace(/\.json$/, ''))
    await fs.mkdir(out, { recursive: true })
    const results = JSON.parse(await fs.readFile(path.join(RESULTS, run), 'utf8')) as BenchResults
    await fs.writeFile(path.join(out, run), JSON.stringify(results))
    await writeReport(results, path.join(out, run), path.join(out, 'BENCHMARKS.md'))
    const charts = (await fs.readdir(path.join(out, 'charts'))).filter((name) => name.endsWith('.svg'))
    // A run with a client-facing phase compares walcast with its peers; a scale-only run has nothing to compare.
    const compared = [results.latency, results.fanout, results.slow].some((phases) => (phases?.length ?? 0) > 0) || results.idle !== undefined
    t.equal(charts.includes('ratios.svg'), compared, `${run}: ratios.svg generated ${compared ? 'for its comparisons' : 'only when there is a comparison'}`)
    for (const chart of charts) svgs.push({ name: `${run} ${chart}`, svg: await fs.readFile(path.join(out, 'charts', chart), 'utf8') })
  }
  // Longer metric names and three peers than any saved run has: the limit is not in today's labels.
  svgs.push({ name: 'ratios with long labels', svg: await renderSvg(ratioBars('walcast vs Socket.IO + NOTIFY and Centrifugo', ['Socket.IO + NOTIFY', 'Centrifugo', 'a third peer with a long name'].flatMap((peer, i) => [
    { metric: 'server RSS growth while one percent of the clients stop reading their sockets', peer, ratio: 0.2 + i },
    { metric: 'p99 commit-to-client latency at 2000 events/s', peer, ratio: 40 - i },
  ]))) })
  for (const { name, svg } of svgs) {
    await page.setContent(`<!doctype html><html><body style="margin:0">${svg}</body></html>`)
    const { viewBox, labels } = await page.evaluate(() => {
      const root = document.querySelector('svg')!
      const box = root.viewBox.baseVal
      const frame = root.getBoundingClientRect()
      // Client pixels back to viewBox units (the SVG may be drawn at another size).
      const sx = box.width / frame.width
      const sy = box.height / frame.height
      const texts = Array.from(root.querySelectorAll('text')).filter((el) => (el.textContent ?? '') !== '' && getComputedStyle(el).opacity !== '0' && el.getAttribute('opacity') !== '0')
      return {
        viewBox: { x: box.x, y: box.y, width: box.width, height: box.height },
        labels: texts.map((el) => {
          const r = el.getBoundingClientRect()
          return { text: el.textContent ?? '', left: box.x + (r.left - frame.left) * sx, top: box.y + (r.top - frame.top) * sy, right: box.x + (r.right - frame.left) * sx, bottom: box.y + (r.bottom - frame.top) * sy }
        }),
      }
    }) as { viewBox: { x: number; y: number; width: number; height: number }; labels: Label[] }
    t.ok(labels.length > 0, `${name}: has labels`)
    const tolerance = 0.5
    const outside = labels.filter((l) => l.left < viewBox.x - tolerance || l.top < viewBox.y - tolerance || l.right > viewBox.x + viewBox.width + tolerance || l.bottom > viewBox.y + viewBox.height + tolerance)
    t.same(outside.map((l) => `${l.text} [${l.left.toFixed(1)}, ${l.top.toFixed(1)}, ${l.right.toFixed(1)}, ${l.bottom.toFixed(1)}]`), [], `${name}: every label inside the viewBox ${viewBox.width}×${viewBox.height}`)
    t.same(labels.filter((l) => l.text.endsWith('…')).map((l) => l.text), [], `${name}: no label shortened with "…"`)
  }
})
