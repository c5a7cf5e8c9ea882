import pg from 'pg'
import { loadConfig } from '../../src/config.ts'
import { createLogger } from '../../src/log.ts'
import { startService, type Service } from '../../src/service.ts'
import { seedPopulation, sentinelEscrow, spreadEscrows } from '../lib/seed.ts'
import { postgresCpuSeconds } from '../lib/processes.ts'
import { startWriter } from '../lib/writer.ts'
import { createFloorSlot, findRecvlogical, type FloorSlot } from '../floors/recvlogical.ts'
import { measureBigTransaction, type BigTransactionResult } from './big-transaction.ts'
import { round, sleep, waitUntil, type BenchContext } from './context.ts'

export interface IngestResult {
  readonly backlog: {
    readonly events: number
    readonly rowsPerTransaction: number
    readonly writeSeconds: number
    readonly drainSeconds: number
    /** Durable in walcast.events and published by the hub, per second. */
    readonly eventsPerSecond: number
    readonly peakRssMb: number
    /** Percent of one core during the drain: walcast's process, and every postgres process. */
    readonly walcastCpu: number
    readonly postgresCpu: number
    /**
     * The decoding floor: pg_recvlogical draining the same backlog from its own slot to
     * /dev/null, after walcast's drain; or why it was not measured.
     */
    readonly decoderFloor?: { readonly tool: string; readonly seconds: number; readonly eventsPerSecond: number } | { readonly notMeasured: string }
  }
  readonly singleRow: {
    readonly writers: number
    readonly seconds: number
    readonly transactionsPerSecond: number
    readonly publishedPerSecond: number
    readonly lag: ReadonlyArray<{ readonly t: number; readonly bytes: number }>
    readonly maxLagBytes: number
    readonly catchUpMs: number
  }
  readonly bigTransaction: BigTransactionResult | undefined
}

const mb = (bytes: number): number => round(bytes / 1024 / 1024, 1)

/**
 * Ingest through to durable history and the hub, with walcast started in-process
 * (startService) so the hub's publications are observed directly.
 */
export async function measureIngest(context: BenchContext): Promise<IngestResult> {
  const { profile, postgres, suffix } = context
  const population = { users: 10, escrows: profile.population.escrows }
  const url = await postgres.createDatabase(`bench_ingest_${suffix}`)
  await seedPopulation(url, population)
  const slot = `ingest_${suffix}`
  const config = loadConfig({ DATABASE_URL: url, WALCAST_SLOT: slot, WALCAST_PORT: '0', WALCAST_HOST: '127.0.0.1', WALCAST_LOG_LEVEL: 'warn', WALCAST_JWT_SECRET: 'x'.repeat(32) })
  const log = createLogger(config.log)
  const sql = new pg.Client({ connectionString: url })
  await sql.connect()
  let sentinel = 0
  const writeSentinel = async (): Promise<string> => {
    sentinel++
    await sql.query(`INSERT INTO public.milestones (escrow_id, title, amount, currency, status, released_at) VALUES ($1, 'sentinel', $2, 'EUR', 'released', clock_timestamp())`, [sentinelEscrow(population), sentinel])
    return `escrow:${sentinelEscrow(population)}`
  }

  // Create the slot, then stop: the backlog is written while nothing reads it.
  let service: Service | undefined = await startService(config, log)
  await waitUntil(() => service!.ingest.status().state === 'streaming' ? true : undefined, 15_000)
  await service.stop()
  service = undefined
  const recvlogical = findRecvlogical()
  let floor: FloorSlot | undefined
  try {
    floor = recvlogical === undefined ? undefined : await createFloorSlot(recvlogical, url, `floor_${suffix}`, config.replication.publication)
    context.log(`ingest: writing a backlog of ${profile.ingest.backlogEvents} events in ${profile.ingest.rowsPerTransaction}-row transactions`)
    const writer = await startWriter({ url, escrows: spreadEscrows(population), rowsPerTransaction: profile.ingest.rowsPerTransaction, eventsPerSecond: 0, durationMs: 300_000, maxEvents: profile.ingest.backlogEvents })
    const written = await writer.done
    const sentinelTopic = await writeSentinel()
    const backlogEnd = (await sql.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn

    const rss = rssSampler()
    let cpuStart = { walcast: process.cpuUsage(), postgres: postgresCpuSeconds(), at: performance.now() }
    service = await startService(config, log)
    let counted = 0
    let first = 0
    let last = 0
    let sentinelSeen = 0
    service.hub.subscribe((events) => {
      const now = performance.now()
      if (counted === 0) {
        first = now
        // From the first publication: start-up is not part of the drain.
        cpuStart = { walcast: process.cpuUsage(), postgres: postgresCpuSeconds(), at: now }
      }
      counted += events.length
      last = now
      for (const event of events) if (event.topics.includes(sentinelTopic)) sentinelSeen++
    })
    await waitUntil(() => sentinelSeen >= 1 ? true : undefined, 300_000, 5)
    const cpuSeconds = (performance.now() - cpuStart.at) / 1000
    const walcastCpu = round(((process.cpuUsage(cpuStart.walcast).user + process.cpuUsage(cpuStart.walcast).system) / 1e6 / cpuSeconds) * 100, 1)
    const postgresCpu = round(((postgresCpuSeconds() - cpuStart.postgres) / cpuSeconds) * 100, 1)
    const drainMs = last - first
    let decoderFloor: IngestResult['backlog']['decoderFloor'] = { notMeasured: 'no pg_recvlogical (PG_RECVLOGICAL, PATH or /usr/lib/postgresql/*/bin; Debian: apt-get install postgresql-client-15)' }
    if (floor !== undefined) {
      // Alone on the machine, as walcast's drain was: walcast is idle by now (nothing new to read).
      const { seconds } = await floor.drain(backlogEnd)
      // Dropped at once: it would hold WAL through the phases that follow.
      await floor.drop()
      floor = undefined
      decoderFloor = { tool: `${recvlogical!} (pgoutput, to /dev/null)`, seconds: round(seconds, 2), eventsPerSecond: Math.round((written.events + 1) / Math.max(seconds, 0.001)) }
      context.log(`ingest: decoding floor (pg_recvlogical) ${decoderFloor.eventsPerSecond} events/s`)
    }
    const backlog = {
      events: written.events,
      rowsPerTransaction: profile.ingest.rowsPerTransaction,
      writeSeconds: round(written.elapsedMs / 1000, 2),
      drainSeconds: round(drainMs / 1000, 2),
      eventsPerSecond: Math.round(counted / Math.max(drainMs / 1000, 0.001)),
      peakRssMb: mb(rss.stop()),
      walcastCpu,
      postgresCpu,
      decoderFloor,
    }
    context.log(`ingest: backlog drained at ${backlog.eventsPerSecond} events/s; CPU walcast ${walcastCpu}%, postgres ${postgresCpu}%`)

    // Single-row transactions from concurrent writers; the slot lag is sampled as they run.
    const lag: Array<{ t: number; bytes: number }> = []
    const t0 = performance.now()
    const publishedBefore = counted
    const singleWriter = await startWriter({ url, escrows: spreadEscrows(population), rowsPerTransaction: 1, eventsPerSecond: 0, durationMs: profile.ingest.singleRowSeconds * 1000, connections: profile.ingest.singleRowWriters })
    let sampling = true
    const sampler = (async () => {
      while (sampling) {
        const result = await sql.query<{ bytes: string }>('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint AS bytes FROM pg_replication_slots WHERE slot_name = $1', [slot])
        lag.push({ t: round((performance.now() - t0) / 1000, 2), bytes: Number(result.rows[0]?.bytes ?? 0) })
        await sleep(250)
      }
    })()
    const single = await singleWriter.done
    const publishedDuring = counted - publishedBefore
    const writerEnded = performance.now()
    const topic = await writeSentinel()
    await waitUntil(() => sentinelSeen >= 2 ? true : undefined, 120_000, 5)
    const catchUpMs = performance.now() - writerEnded
    sampling = false
    await sampler
    void topic
    const singleRow = {
      writers: profile.ingest.singleRowWriters,
      seconds: profile.ingest.singleRowSeconds,
      transactionsPerSecond: Math.round(single.transactions / (single.elapsedMs / 1000)),
      publishedPerSecond: Math.round(publishedDuring / (single.elapsedMs / 1000)),
      lag,
      maxLagBytes: Math.max(0, ...lag.map((s) => s.bytes)),
      catchUpMs: Math.round(catchUpMs),
    }
    context.log(`ingest: ${singleRow.writers} single-row writers at ${singleRow.transactionsPerSecond} tx/s, max slot lag ${singleRow.maxLagBytes} bytes`)

    // Its own walcast process and database: its memory is walcast's alone (big-transaction.ts).
    await service.stop()
    service = undefined
    const bigTransaction = profile.ingest.bigTransactionRows > 0 ? await measureBigTransaction(context, profile.ingest.bigTransactionRows) : undefined
    return { backlog, singleRow, bigTransaction }
  } finally {
    await service?.stop().catch(() => {})
    await floor?.drop().catch(() => {})
    await sql.end().catch(() => {})
    await postgres.dropDatabase(`bench_ingest_${suffix}`).catch(() => {})
  }
}

/** Peak RSS of this process between creation and stop(), sampled every 20 ms. */
function rssSampler(): { stop(): number } {
  let peak = process.memoryUsage().rss
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss) }, 20)
  return {
    stop() {
      clearInterval(timer)
      return Math.max(peak, process.memoryUsage().rss)
    },
  }
}
