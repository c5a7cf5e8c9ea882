/**
 * `node --import tsx bench/profile-live.ts [--drain] [events] [profile.cpuprofile]`: the live phase of
 * issue #15 (100-row transactions, one WebSocket subscriber) with walcast in this process
 * and the writer and the client in another (bench/lib/live-client.ts). Prints walcast's CPU
 * time per event over the phase; with a file name, also writes a V8 CPU profile of exactly
 * that phase (open it in Chrome DevTools), or with a `.heapprofile` name a sampling profile
 * of its allocations. `--drain` measures the catch-up instead: the backlog is written while
 * walcast is stopped, then its CPU is read from its start until every event is durable.
 * Postgres: DATABASE_URL's server, or an embedded one. Compare commits interleaved (A B A B): on a shared host one figure means little.
 */
import { fork } from 'node:child_process'
import fs from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import path from 'node:path'
import pg from 'pg'
import { loadConfig } from '../src/config.ts'
import { createLogger } from '../src/log.ts'
import { startService } from '../src/service.ts'
import { startBenchPostgres } from './lib/postgres.ts'
import { followPostgresCpu, type PostgresCpuSplit } from './lib/postgres-cpu.ts'
import { REPO } from './lib/processes.ts'
import { seedPopulation } from './lib/seed.ts'
import { BENCH_JWT_SECRET } from './lib/token.ts'
import { startWriter } from './lib/writer.ts'

type Config = ReturnType<typeof loadConfig>

const drain = process.argv.includes('--drain')
// `--drain --one-transaction`: the backlog is one transaction (issue #15's 1,000,000-row case); peak RSS is reported,
// of this process (the script and tsx with walcast): walcast's own is bench/profile-big-transaction.ts's.
const oneTransaction = process.argv.includes('--one-transaction')
const args = process.argv.slice(2).filter((arg) => !arg.startsWith('--'))
const events = Number(args[0] ?? 60_000)
const profilePath = args[1]
const postgres = await startBenchPostgres(process.env.DATABASE_URL)
const name = `bench_live_${process.pid}`
const url = await postgres.createDatabase(name)
try {
  await seedPopulation(url, { users: 10, escrows: 10 })
  const config = loadConfig({ DATABASE_URL: url, WALCAST_SLOT: name, WALCAST_PORT: '0', WALCAST_HOST: '127.0.0.1', WALCAST_LOG_LEVEL: 'warn', WALCAST_JWT_SECRET: BENCH_JWT_SECRET })
  if (drain) await profileDrain(config)
  else await profileLive(config)
} finally {
  await postgres.dropDatabase(name).catch(() => {})
  await postgres.stop()
}
process.exit(0)

async function profileLive(config: Config): Promise<void> {
  const service = await startService(config, createLogger(config.log))
  try {
    await streaming(service)
    const client = fork(path.join(REPO, 'bench/lib/live-client.ts'), [url, String(service.http.port), String(events)], { execArgv: ['--import', 'tsx'], cwd: REPO })
    const next = (): Promise<Record<string, number>> => new Promise((resolve) => client.once('message', (m) => resolve(m as Record<string, number>)))
    await next()
    const stop = await startProfile()
    const cpu0 = process.cpuUsage()
    const started = performance.now()
    const done = next()
    client.send('go')
    const reply = await done
    const cpu = process.cpuUsage(cpu0)
    const ms = performance.now() - started
    await stop()
    process.stdout.write(`${reply.written} events (written in ${reply.writeMs} ms), all at the client after ${Math.round(ms)} ms; ${cpuText(cpu, events)}; ${Math.round((cpu.user + cpu.system) / 10 / ms)}% of a core\n`)
  } finally {
    await service.stop()
  }
}

async function profileDrain(config: Config): Promise<void> {
  // A first start creates the slot; the backlog is written while nothing reads it.
  const first = await startService(config, createLogger(config.log))
  await streaming(first)
  await first.stop()
  const counter = new pg.Client({ connectionString: url })
  await counter.connect()
  let written = events
  if (oneTransaction) {
    await counter.query(`INSERT INTO public.milestones (escrow_id, title, amount, currency, status, released_at) SELECT 1, 'bulk', g, 'EUR', 'released', clock_timestamp() FROM generate_series(1, $1::int) g`, [events])
  } else {
    const writer = await startWriter({ url, escrows: [1], rowsPerTransaction: 100, eventsPerSecond: 0, durationMs: 300_000, maxEvents: events })
    written = (await writer.done).events
  }
  const counterPid = (await counter.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid
  // rss() alone: memoryUsage() also gathers V8's heap statistics, and this process is the one measured
  // (1.5% of its busy time in a drain profile, every 20 ms).
  let peakRss = process.memoryUsage.rss()
  const postgresCpu = followPostgresCpu(counterPid, [counterPid])
  const rssTimer = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage.rss()) }, 20)
  const stop = await startProfile()
  const cpu0 = process.cpuUsage()
  const started = performance.now()
  const service = await startService(config, createLogger(config.log))
  try {
    // Counted by Postgres: the query costs its CPU, not walcast's (less often for a big backlog,
    // whose count itself takes a while).
    const every = Math.max(25, written / 2_000)
    while (Number((await counter.query<{ n: string }>('SELECT count(*) AS n FROM walcast.events')).rows[0]!.n) < written) await new Promise((resolve) => setTimeout(resolve, every))
    const cpu = process.cpuUsage(cpu0)
    const ms = performance.now() - started
    const split = postgresCpu.stop()
    await stop()
    process.stdout.write(`drain: ${written} events durable ${Math.round(ms)} ms after walcast's start (${Math.round((written / ms) * 1000)} events/s, start-up included); ${cpuText(cpu, written)}; peak RSS ${Math.round(peakRss / 1048576)} MB\n`)
    process.stdout.write(`postgres: ${postgresText(split, written)}\n`)
  } finally {
    clearInterval(rssTimer)
    await counter.end()
    await service.stop()
  }
}

async function streaming(service: Awaited<ReturnType<typeof startService>>): Promise<void> {
  while (service.ingest.status().state !== 'streaming') await new Promise((resolve) => setTimeout(resolve, 20))
}

function cpuText(cpu: NodeJS.CpuUsage, events: number): string {
  return `walcast CPU ${((cpu.user + cpu.system) / events).toFixed(1)} µs per event (user ${(cpu.user / events).toFixed(1)}, system ${(cpu.system / events).toFixed(1)})`
}

/** Postgres's CPU per event by role; the harness's count(*) polls are listed apart and left out of the total. */
function postgresText(split: PostgresCpuSplit, events: number): string {
  const us = (seconds: number): string => ((seconds * 1e6) / events).toFixed(1)
  const roles = Object.entries(split.seconds).map(([role, seconds]) => `${role} ${us(seconds)}`).join(', ')
  return `${us(split.total - split.seconds.harness)} µs per event (${roles})`
}

/** Starts the profile the file name asks for (none, CPU, or a .heapprofile of allocations); the returned function writes it. */
async function startProfile(): Promise<() => Promise<void>> {
  const session = new Session()
  session.connect()
  // Collected objects included: the question is who makes the garbage GC collects.
  const heap = profilePath?.endsWith('.heapprofile') === true
  if (heap) {
    await session.post('HeapProfiler.enable')
    await session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
  } else if (profilePath !== undefined) {
    await session.post('Profiler.enable')
    await session.post('Profiler.setSamplingInterval', { interval: 250 })
    await session.post('Profiler.start')
  }
  return async () => {
    if (heap) await fs.writeFile(profilePath!, JSON.stringify((await session.post('HeapProfiler.stopSampling')).profile))
    else if (profilePath !== undefined) await fs.writeFile(profilePath, JSON.stringify((await session.post('Profiler.stop')).profile))
  }
}
