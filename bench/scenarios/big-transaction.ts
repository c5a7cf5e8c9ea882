import fs from 'node:fs'
import pg from 'pg'
import { cpuSeconds, peakRssBytes, rssBytes, startWalcastProcess, type WalcastProcess } from '../lib/processes.ts'
import { bulkEscrow, seedPopulation, sentinelEscrow, type Population } from '../lib/seed.ts'
import { BENCH_JWT_SECRET } from '../lib/token.ts'
import { round, sleep, type BenchContext } from './context.ts'

export interface BigTransactionResult {
  /**
   * The RSS and CPU are of walcast's own process. Absent in results from before
   * 2026-12-02: walcast ran inside the driver, whose memory counted with it.
   */
  readonly ownProcess?: true
  readonly rows: number
  readonly commitSeconds: number
  /** From the commit until every event of it was durable and published (the sentinel after it was). */
  readonly ingestSeconds: number
  /** walcast's own process, streaming and idle, after a full garbage collection. */
  readonly baselineRssMb: number
  /** walcast's own process, from just before the commit until the sentinel was published. */
  readonly peakRssMb: number
  /** walcast's CPU time over the same span, per row. */
  readonly walcastMicrosPerRow?: number
}

const mb = (bytes: number): number => round(bytes / 1024 / 1024, 1)

/**
 * One transaction of `rows` rows (issue #15: "1,000,000-row transaction, peak RSS ≤
 * 300 MB") through a walcast in its own process (the build, on plain node, as `walcast
 * serve` runs it) on its own database: every figure of the row is that process's, not
 * the benchmark driver's (whose TypeScript loader, writer and earlier phases' heap
 * made most of the figure while walcast ran inside it). Its RSS is read from /proc:
 * sampled every 20 ms and, where the kernel allows resetting it, the peak it kept (VmHWM).
 */
export async function measureBigTransaction(context: BenchContext, rows: number): Promise<BigTransactionResult> {
  const { postgres, suffix } = context
  const population: Population = { users: 10, escrows: context.profile.population.escrows }
  const name = `bench_bigtx_${suffix}`
  const url = await postgres.createDatabase(name)
  let walcast: WalcastProcess | undefined
  const sql = new pg.Client({ connectionString: url })
  try {
    await seedPopulation(url, population)
    await sql.connect()
    walcast = await startWalcastProcess({ DATABASE_URL: url, WALCAST_JWT_SECRET: BENCH_JWT_SECRET, WALCAST_SLOT: `bigtx_${suffix}` })
    const sentinelTopic = `escrow:${sentinelEscrow(population)}`
    walcast.child.send({ watch: sentinelTopic })
    const baseline = (await walcast.collectGarbage(), rssBytes(walcast.pid))
    const peak = rssPeak(walcast.pid)
    const cpu0 = cpuSeconds(walcast.pid)
    const started = performance.now()
    context.log(`ingest: one ${rows}-row transaction (walcast in its own process)`)
    await sql.query(`INSERT INTO public.milestones (escrow_id, title, amount, currency, status, released_at) SELECT $1, 'bulk', g, 'EUR', 'released', clock_timestamp() FROM generate_series(1, $2::int) g`, [bulkEscrow(population), rows])
    const committed = performance.now()
    await sql.query(`INSERT INTO public.milestones (escrow_id, title, amount, currency, status, released_at) VALUES ($1, 'sentinel', 1, 'EUR', 'released', clock_timestamp())`, [sentinelEscrow(population)])
    const published = await waitForPublished(walcast, 600_000)
    const ended = performance.now()
    const cpu = cpuSeconds(walcast.pid) - cpu0
    if (published.watched < 1) throw new Error(`the ${rows}-row transaction was not published within 600 s (${published.events} events)`)
    const result: BigTransactionResult = {
      ownProcess: true,
      rows,
      commitSeconds: round((committed - started) / 1000, 2),
      ingestSeconds: round((ended - committed) / 1000, 2),
      baselineRssMb: mb(baseline),
      peakRssMb: mb(peak.stop()),
      walcastMicrosPerRow: round((cpu * 1e6) / rows, 2),
    }
    context.log(`ingest: big transaction durable ${result.ingestSeconds}s after commit; walcast's RSS ${result.baselineRssMb} MB before, peak ${result.peakRssMb} MB; ${result.walcastMicrosPerRow} µs CPU per row`)
    return result
  } finally {
    await walcast?.stop().catch(() => {})
    await sql.end().catch(() => {})
    await postgres.dropDatabase(name).catch(() => {})
  }
}

/** Asks the child what its hub published (walcast-child.mjs) until the watched topic's event came. */
async function waitForPublished(walcast: WalcastProcess, timeoutMs: number): Promise<{ events: number; watched: number }> {
  const deadline = performance.now() + timeoutMs
  let last = { events: 0, watched: 0 }
  while (performance.now() < deadline) {
    last = await new Promise<{ events: number; watched: number }>((resolve) => {
      const timer = setTimeout(() => done(last), 5_000)
      function done(value: { events: number; watched: number }): void {
        clearTimeout(timer)
        walcast.child.off('message', onMessage)
        resolve(value)
      }
      function onMessage(message: unknown): void {
        if (message !== null && typeof message === 'object' && 'published' in message) done((message as { published: { events: number; watched: number } }).published)
      }
      walcast.child.on('message', onMessage)
      walcast.child.send('published')
    })
    if (last.watched >= 1) return last
    await sleep(10)
  }
  return last
}

/**
 * The peak RSS of process `pid` from now until stop(): VmHWM after resetting it (writing
 * 5 to /proc/pid/clear_refs, allowed for our own children) catches a peak between two
 * samples; the 20 ms samples stand in where the reset is refused.
 */
function rssPeak(pid: number): { stop(): number } {
  let reset = false
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5')
    reset = true
  } catch {
    // Not allowed here (another user's process, a restricted /proc): the samples alone.
  }
  let peak = rssBytes(pid)
  const timer = setInterval(() => {
    try { peak = Math.max(peak, rssBytes(pid)) } catch { /* exited: stop() reports what was seen */ }
  }, 20)
  return {
    stop() {
      clearInterval(timer)
      try {
        peak = Math.max(peak, rssBytes(pid), reset ? peakRssBytes(pid) : 0)
      } catch { /* exited */ }
      return peak
    },
  }
}
