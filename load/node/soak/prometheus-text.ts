/**
 * The few series a soak reads from walcast's /metrics (Prometheus text format). A series
 * that is absent (walcast leaves out what it could not measure) stays undefined.
 */
export interface ScrapedFigures {
  readonly rssBytes: number | undefined
  readonly heapUsedBytes: number | undefined
  readonly heapTotalBytes: number | undefined
  /** Event-loop delay since the previous scrape: walcast's own monitor (resets per scrape). */
  readonly loopDelayP99Seconds: number | undefined
  readonly loopDelayMaxSeconds: number | undefined
  readonly openFds: number | undefined
  /** pg_current_wal_lsn() - confirmed_flush_lsn of walcast's slot. */
  readonly slotLagBytes: number | undefined
  readonly connections: number | undefined
}

/** `name{labels} value` lines to a map keyed by `name{labels}` as written (labels sorted as walcast writes them). */
export function parsePrometheusText(text: string): Map<string, number> {
  const values = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    // The value is the last field but one when a timestamp follows; prom-client writes none.
    const space = line.lastIndexOf(' ')
    if (space <= 0) continue
    const value = Number(line.slice(space + 1))
    if (!Number.isNaN(value)) values.set(line.slice(0, space), value)
  }
  return values
}

/** The first series named `name` whose labels include every `labels` pair. */
export function seriesValue(values: ReadonlyMap<string, number>, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`)
  for (const [key, value] of values) {
    const brace = key.indexOf('{')
    const keyName = brace < 0 ? key : key.slice(0, brace)
    if (keyName !== name) continue
    const labelText = brace < 0 ? '' : key.slice(brace + 1, -1)
    const present = labelText === '' ? [] : labelText.split(',')
    if (wanted.every((pair) => present.includes(pair))) return value
  }
  return undefined
}

export function readFigures(text: string): ScrapedFigures {
  const values = parsePrometheusText(text)
  return {
    rssBytes: seriesValue(values, 'process_resident_memory_bytes'),
    heapUsedBytes: seriesValue(values, 'nodejs_heap_size_used_bytes'),
    heapTotalBytes: seriesValue(values, 'nodejs_heap_size_total_bytes'),
    loopDelayP99Seconds: seriesValue(values, 'walcast_event_loop_delay_seconds', { quantile: '0.99' }),
    loopDelayMaxSeconds: seriesValue(values, 'walcast_event_loop_delay_seconds', { quantile: '1' }),
    openFds: seriesValue(values, 'process_open_fds'),
    slotLagBytes: seriesValue(values, 'walcast_replication_lag_bytes'),
    connections: seriesValue(values, 'walcast_gateway_connections'),
  }
}
