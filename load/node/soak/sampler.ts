import { readFigures, type ScrapedFigures } from './prometheus-text.ts'

/** One reading of walcast's figures during a soak; null where walcast reported nothing. */
export type SoakSample = { readonly tMs: number; readonly written: number; readonly received: number | null } & { readonly [K in keyof ScrapedFigures]: number | null }

export interface SamplerOptions {
  readonly metricsUrl: string
  readonly intervalMs: number
  /** The loop ends here at the latest (every load loop is bounded in time). */
  readonly durationMs: number
  /** Milliseconds since the soak started (the samples' time axis). */
  readonly elapsedMs: () => number
  /** Figures from the soak's own side (writer, clients), read at the same moment. */
  readonly extra: () => Promise<{ written: number; received: number | null }>
  readonly onSample?: (sample: SoakSample) => void
}

export interface Sampler {
  readonly samples: readonly SoakSample[]
  /** Ends the loop after the reading in flight; resolves when it has. */
  stop(): Promise<void>
  /** One more reading now (the last one of a run). */
  sampleNow(): Promise<SoakSample>
}

/** /metrics queries Postgres: on a busy machine a scrape can take seconds. */
const SCRAPE_TIMEOUT_MIN_MS = 5000

const ABSENT: { readonly [K in keyof ScrapedFigures]: null } = {
  rssBytes: null, heapUsedBytes: null, heapTotalBytes: null, loopDelayP99Seconds: null, loopDelayMaxSeconds: null, openFds: null, slotLagBytes: null, connections: null,
}

/** Reads /metrics every `intervalMs` (on schedule, not after the previous reading) until stop() or the deadline. */
export function startSampler(options: SamplerOptions): Sampler {
  const samples: SoakSample[] = []
  let stopped = false
  let wake: (() => void) | undefined
  const sampleNow = async (): Promise<SoakSample> => {
    const tMs = options.elapsedMs()
    const [scraped, extra] = await Promise.all([scrape(options.metricsUrl, options.intervalMs), options.extra()])
    const sample: SoakSample = { tMs, ...scraped, ...extra }
    samples.push(sample)
    options.onSample?.(sample)
    return sample
  }
  const loop = (async () => {
    const start = performance.now()
    for (let i = 0; !stopped && performance.now() - start < options.durationMs; i++) {
      await sampleNow()
      const wait = start + (i + 1) * options.intervalMs - performance.now()
      if (wait > 0 && !stopped) await new Promise<void>((resolve) => { wake = resolve; setTimeout(resolve, wait) })
    }
  })()
  return {
    samples,
    sampleNow,
    async stop() {
      stopped = true
      wake?.()
      await loop
    },
  }
}

async function scrape(url: string, timeoutMs: number): Promise<{ readonly [K in keyof ScrapedFigures]: number | null }> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(Math.max(SCRAPE_TIMEOUT_MIN_MS, timeoutMs)) })
    const figures = readFigures(await response.text())
    return Object.fromEntries(Object.entries(figures).map(([key, value]) => [key, value ?? null])) as { [K in keyof ScrapedFigures]: number | null }
  } catch {
    // A missed scrape is a gap in the chart, not the end of the soak.
    return ABSENT
  }
}
