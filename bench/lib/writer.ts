import pg from 'pg'

/**
 * The SQL writer every benchmark and load run uses: it inserts released milestones, one
 * event each. `amount` carries a per-escrow counter (1, 2, 3, …) so clients can tell a
 * gap or a duplicate from the payload alone, and `released_at = clock_timestamp()` stamps
 * the row for commit-to-client latency (same host, one clock).
 */
export interface WriterOptions {
  readonly url: string
  /** Escrows written to, round robin. */
  readonly escrows: readonly number[]
  /** Rows (events) per transaction. */
  readonly rowsPerTransaction: number
  /** Target events per second; 0 = as fast as possible. */
  readonly eventsPerSecond: number
  /** Upper bound on the run (every loop is bounded in time). */
  readonly durationMs: number
  /** Stop after this many events (optional). */
  readonly maxEvents?: number
  /** Concurrent connections, each writing its own transactions (escrows split between them). */
  readonly connections?: number
}

export interface WriterResult {
  readonly events: number
  readonly transactions: number
  readonly elapsedMs: number
  /** The last counter written per escrow: what a lossless client must have seen. */
  readonly lastAmount: ReadonlyMap<number, number>
}

export interface Writer {
  readonly done: Promise<WriterResult>
  /** Stops after the transaction in flight. */
  stop(): void
  /** Events committed so far. */
  written(): number
}

const INSERT = `
  INSERT INTO public.milestones (escrow_id, title, amount, currency, status, released_at)
  SELECT e, 'bench', a, 'EUR', 'released', clock_timestamp()
  FROM unnest($1::bigint[], $2::numeric[]) AS x(e, a)`

export async function currentAmounts(url: string): Promise<Map<number, number>> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const result = await client.query<{ escrow_id: string; n: string }>(`SELECT escrow_id, max(amount)::bigint AS n FROM public.milestones WHERE title = 'bench' GROUP BY escrow_id`)
    return new Map(result.rows.map((row) => [Number(row.escrow_id), Number(row.n)]))
  } finally {
    await client.end()
  }
}

export async function startWriter(options: WriterOptions): Promise<Writer> {
  const amounts = await currentAmounts(options.url)
  const connections = Math.max(1, Math.min(options.connections ?? 1, options.escrows.length))
  let stopped = false
  let events = 0
  let transactions = 0
  const started = performance.now()
  const deadline = started + options.durationMs
  const perConnectionRate = options.eventsPerSecond / connections

  async function loop(share: readonly number[]): Promise<void> {
    const client = new pg.Client({ connectionString: options.url, application_name: 'walcast-bench-writer' })
    await client.connect()
    try {
      let cursor = 0
      let mine = 0
      const t0 = performance.now()
      while (!stopped && performance.now() < deadline && (options.maxEvents === undefined || events < options.maxEvents)) {
        const ids: number[] = []
        const values: number[] = []
        const rows = options.maxEvents === undefined ? options.rowsPerTransaction : Math.min(options.rowsPerTransaction, options.maxEvents - events)
        for (let i = 0; i < rows; i++) {
          const escrow = share[cursor++ % share.length]!
          const next = (amounts.get(escrow) ?? 0) + 1
          amounts.set(escrow, next)
          ids.push(escrow)
          values.push(next)
        }
        await client.query(INSERT, [ids, values])
        events += rows
        mine += rows
        transactions++
        if (perConnectionRate > 0) {
          // Pace against the schedule, not the last write, so slow commits do not lower the rate.
          const due = t0 + (mine / perConnectionRate) * 1000
          const wait = due - performance.now()
          if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait))
        }
      }
    } finally {
      await client.end().catch(() => {})
    }
  }

  const shares: number[][] = Array.from({ length: connections }, () => [])
  options.escrows.forEach((escrow, i) => shares[i % connections]!.push(escrow))
  const done = Promise.all(shares.map(loop)).then(() => ({
    events,
    transactions,
    elapsedMs: performance.now() - started,
    lastAmount: new Map(options.escrows.map((e) => [e, amounts.get(e) ?? 0])),
  }))
  return { done, stop: () => { stopped = true }, written: () => events }
}
