/**
 * `node --import tsx bench/profile-live.ts [events] [profile.cpuprofile]`: the live phase of
 * issue #15 (100-row transactions, one WebSocket subscriber) with walcast in this process
 * and the writer and the client in another (bench/lib/live-client.ts). Prints walcast's CPU
 * time per event over the phase; with a file name, also writes a V8 CPU profile of exactly
 * that phase (open it in Chrome DevTools), or with a `.heapprofile` name a sampling profile
 * of its allocations. Postgres: DATABASE_URL's server, or an embedded
 * one. Compare commits interleaved (A B A B): on a shared host one figure means little.
 */
import { fork } from 'node:child_process'
import fs from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import path from 'node:path'
import { loadConfig } from '../src/config.ts'
import { createLogger } from '../src/log.ts'
import { startService } from '../src/service.ts'
import { startBenchPostgres } from './lib/postgres.ts'
import { REPO } from './lib/processes.ts'
import { seedPopulation } from './lib/seed.ts'
import { BENCH_JWT_SECRET } from './lib/token.ts'

const events = Number(process.argv[2] ?? 60_000)
const profilePath = process.argv[3]
const postgres = await startBenchPostgres(process.env.DATABASE_URL)
const name = `bench_live_${process.pid}`
const url = await postgres.createDatabase(name)
try {
  await seedPopulation(url, { users: 10, escrows: 10 })
  const config = loadConfig({ DATABASE_URL: url, WALCAST_SLOT: name, WALCAST_PORT: '0', WALCAST_HOST: '127.0.0.1', WALCAST_LOG_LEVEL: 'warn', WALCAST_JWT_SECRET: BENCH_JWT_SECRET })
  const service = await startService(config, createLogger(config.log))
  try {
    while (service.ingest.status().state !== 'streaming') await new Promise((resolve) => setTimeout(resolve, 20))
    const client = fork(path.join(REPO, 'bench/lib/live-client.ts'), [url, String(service.http.port), String(events)], { execArgv: ['--import', 'tsx'], cwd: REPO })
    const next = (): Promise<Record<string, number>> => new Promise((resolve) => client.once('message', (m) => resolve(m as Record<string, number>)))
    await next()
    const session = new Session()
    session.connect()
    // A .heapprofile name samples allocations instead (who makes the garbage GC collects).
    const heap = profilePath?.endsWith('.heapprofile') === true
    if (heap) {
      await session.post('HeapProfiler.enable')
      await session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
    } else if (profilePath !== undefined) {
      await session.post('Profiler.enable')
      await session.post('Profiler.setSamplingInterval', { interval: 250 })
      await session.post('Profiler.start')
    }
    const cpu0 = process.cpuUsage()
    const started = performance.now()
    const done = next()
    client.send('go')
    const reply = await done
    const cpu = process.cpuUsage(cpu0)
    const ms = performance.now() - started
    if (heap) await fs.writeFile(profilePath!, JSON.stringify((await session.post('HeapProfiler.stopSampling')).profile))
    else if (profilePath !== undefined) await fs.writeFile(profilePath, JSON.stringify((await session.post('Profiler.stop')).profile))
    const micros = cpu.user + cpu.system
    process.stdout.write(`${reply.written} events (written in ${reply.writeMs} ms), all at the client after ${Math.round(ms)} ms; walcast CPU ${(micros / events).toFixed(1)} µs per event (user ${(cpu.user / events).toFixed(1)}, system ${(cpu.system / events).toFixed(1)}; ${Math.round(micros / 10 / ms)}% of a core)\n`)
  } finally {
    await service.stop()
  }
} finally {
  await postgres.dropDatabase(name).catch(() => {})
  await postgres.stop()
}
process.exit(0)
