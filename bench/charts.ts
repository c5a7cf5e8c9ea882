import * as vega from 'vega'
import { compile, type TopLevelSpec } from 'vega-lite'

/** Renders a Vega-Lite spec to an SVG string, server-side (no browser, no canvas). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' })
  const svg = await view.toSVG()
  view.finalize()
  return svg
}

const COLORS = { domain: ['walcast', 'Socket.IO + NOTIFY', 'Centrifugo'], range: ['#2b6cb0', '#c05621', '#2f855a'] }

/** Each system keeps its colour from chart to chart; the legend lists only the systems present. */
function colorsFor(systems: readonly string[]): { domain: string[]; range: string[] } {
  const domain = COLORS.domain.filter((name) => systems.includes(name))
  for (const name of systems) if (!domain.includes(name)) domain.push(name)
  return { domain, range: domain.map((name) => COLORS.range[COLORS.domain.indexOf(name)] ?? '#718096') }
}

export function groupedBars(title: string, rows: ReadonlyArray<Record<string, unknown>>, x: string, y: string, yTitle: string, column?: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    data: { values: rows as Array<Record<string, unknown>> },
    mark: { type: 'bar', tooltip: true },
    width: 180,
    height: 200,
    encoding: {
      x: { field: x, type: 'nominal', title: null, sort: null },
      xOffset: { field: 'system' },
      y: { field: y, type: 'quantitative', title: yTitle },
      color: { field: 'system', type: 'nominal', scale: colorsFor(rows.map((row) => String(row.system))), title: null },
      ...(column === undefined ? {} : { column: { field: column, type: 'nominal', title: null } }),
    },
  } as TopLevelSpec
}

/**
 * One bar per metric and peer on a log scale from parity. Labels are never truncated
 * (`labelLimit: 0`): vega measures text without a browser here, and its estimate is wider
 * than Chromium's rendering, so the padding it computes holds every label
 * (test/bench/charts.browser.test.ts checks the rendered boxes).
 */
export function ratioBars(title: string, rows: ReadonlyArray<{ metric: string; peer: string; ratio: number }>): TopLevelSpec {
  const peers = [...new Set(rows.map((r) => r.peer))]
  const color = { field: 'peer', type: 'nominal', title: 'peer / walcast', scale: colorsFor(peers), legend: { orient: 'bottom', labelLimit: 0 } }
  const y = { field: 'metric', type: 'nominal', title: null, sort: null, axis: { labelLimit: 0 } }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 360,
    // With a yOffset channel the step is one peer's bar, not a metric's band.
    height: { step: 16 },
    data: { values: rows as unknown as Array<Record<string, unknown>> },
    encoding: { y, yOffset: { field: 'peer', sort: peers } },
    layer: [
      {
        mark: { type: 'bar' },
        encoding: {
          x: { field: 'ratio', type: 'quantitative', title: 'walcast advantage (×, log scale; 1 = parity)', scale: { type: 'log' } },
          // Bars start at parity: on a log scale there is no zero to start from.
          x2: { datum: 1 },
          color,
        },
      },
      { mark: { type: 'rule', color: '#444', strokeDash: [4, 3] }, encoding: { x: { datum: 1 }, y: null, yOffset: null } },
      // Each value at the outer end of its bar: right of a bar above parity, left of one below.
      ...([['>=', 'left', 4], ['<', 'right', -4]] as const).map(([test, align, dx]) => ({
        transform: [{ filter: `datum.ratio ${test} 1` }],
        mark: { type: 'text', align, dx, fontSize: 10 },
        encoding: { x: { field: 'ratio', type: 'quantitative' }, text: { field: 'ratio', format: '.3~r' } },
      })),
    ],
  } as TopLevelSpec
}

export function line(title: string, rows: ReadonlyArray<Record<string, unknown>>, x: string, y: string, xTitle: string, yTitle: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: 420,
    height: 180,
    data: { values: rows as Array<Record<string, unknown>> },
    mark: { type: 'line', point: true, color: '#2b6cb0' },
    encoding: {
      x: { field: x, type: 'quantitative', title: xTitle },
      y: { field: y, type: 'quantitative', title: yTitle },
    },
  } as TopLevelSpec
}
