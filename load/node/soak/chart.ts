/**
 * The soak's chart: one panel per figure over the run's minutes, the warm-up shaded and
 * every reconnect storm and fan-out spike marked, rendered to SVG by bench/charts.ts.
 */
import type { TopLevelSpec } from 'vega-lite'
import { renderSvg } from '../../../bench/charts.ts'
import type { SoakPlan } from './plan.ts'
import type { SoakSample } from './sampler.ts'

export interface Panel {
  readonly id: string
  /** The y axis title, with its unit. */
  readonly title: string
  readonly series: ReadonlyArray<{ readonly name: string; readonly pick: (s: SoakSample) => number | null; readonly scale: number }>
}

const MIB = 1 / (1024 * 1024)

export const PANELS: readonly Panel[] = [
  { id: 'rss', title: 'RSS (MiB)', series: [{ name: 'RSS', pick: (s) => s.rssBytes, scale: MIB }] },
  { id: 'heap', title: 'V8 heap (MiB)', series: [{ name: 'heap used', pick: (s) => s.heapUsedBytes, scale: MIB }, { name: 'heap total', pick: (s) => s.heapTotalBytes, scale: MIB }] },
  { id: 'loop', title: 'event-loop delay (ms)', series: [{ name: 'p99', pick: (s) => s.loopDelayP99Seconds, scale: 1000 }, { name: 'max', pick: (s) => s.loopDelayMaxSeconds, scale: 1000 }] },
  { id: 'fds', title: 'open file descriptors', series: [{ name: 'open fds', pick: (s) => s.openFds, scale: 1 }] },
  { id: 'lag', title: 'slot lag (KiB)', series: [{ name: 'slot lag', pick: (s) => s.slotLagBytes, scale: 1 / 1024 }] },
]

export interface ChartRow {
  readonly minute: number
  readonly series: string
  readonly value: number
}

/** A panel's readings in its unit, against minutes since the start; absent readings are left out. */
export function panelRows(panel: Panel, samples: readonly SoakSample[]): ChartRow[] {
  const rows: ChartRow[] = []
  for (const sample of samples) {
    for (const series of panel.series) {
      const value = series.pick(sample)
      if (value !== null) rows.push({ minute: round(sample.tMs / 60_000, 3), series: series.name, value: round(value * series.scale, 3) })
    }
  }
  return rows
}

function round(value: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}

export function soakChartSpec(samples: readonly SoakSample[], plan: SoakPlan, title: string): TopLevelSpec {
  const warmupMinutes = round(plan.warmupMs / 60_000, 3)
  const endMinutes = round(plan.durationMs / 60_000, 3)
  const marks = plan.events.map((e) => ({ minute: round(e.atMs / 60_000, 3), kind: e.kind === 'storm' ? 'reconnect storm' : 'fan-out spike' }))
  const x = { field: 'minute', type: 'quantitative', title: 'minutes since start', scale: { domain: [0, endMinutes] } }
  const panels = PANELS.map((panel, index) => ({
    width: 560,
    height: 90,
    layer: [
      {
        data: { values: [{ from: 0, to: warmupMinutes }] },
        mark: { type: 'rect', color: '#edf2f7' },
        encoding: { x: { field: 'from', type: 'quantitative', scale: { domain: [0, endMinutes] }, title: 'minutes since start' }, x2: { field: 'to' } },
      },
      {
        data: { values: marks },
        mark: { type: 'rule' },
        encoding: {
          x: { field: 'minute', type: 'quantitative' },
          // The events' legend once, beside the first panel.
          strokeDash: { field: 'kind', type: 'nominal', title: 'event', scale: { domain: ['reconnect storm', 'fan-out spike'], range: [[6, 3], [2, 2]] }, legend: index === 0 ? {} : null },
          color: { value: '#a0aec0' },
        },
      },
      {
        data: { values: panelRows(panel, samples) },
        mark: { type: 'line', strokeWidth: 1.5 },
        encoding: {
          x,
          y: { field: 'value', type: 'quantitative', title: panel.title, scale: { zero: panel.id !== 'rss' && panel.id !== 'heap' } },
          color: { field: 'series', type: 'nominal', title: null, sort: null, scale: { range: ['#2b6cb0', '#c05621'] } },
          // A name per line, so the SVG says what each one is.
          description: { field: 'series' },
        },
      },
    ],
  }))
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: title, subtitle: `shaded: warm-up (first ${warmupMinutes} min); grey verticals: reconnect storms and fan-out spikes` },
    vconcat: panels,
    resolve: { scale: { color: 'independent', strokeDash: 'independent' }, legend: { color: 'independent', strokeDash: 'independent' } },
  } as unknown as TopLevelSpec
}

export function renderSoakChart(samples: readonly SoakSample[], plan: SoakPlan, title: string): Promise<string> {
  return renderSvg(soakChartSpec(samples, plan, title))
}
