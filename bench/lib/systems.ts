import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { installPeerTrigger } from '../peers/socketio-notify/server.ts'
import type { SystemKind } from './clients.ts'
import type { BenchPostgres } from './postgres.ts'
import { forkTs, startWalcastProcess, type ChildHandle } from './processes.ts'
import { seedPopulation, type Population } from './seed.ts'
import { BENCH_JWT_SECRET } from './token.ts'

const PEER_ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), '../peers/socketio-notify/child.ts')

/** A push server under test, in its own process, on its own database of one cluster. */
export interface SystemUnderTest extends ChildHandle {
  readonly kind: SystemKind
  readonly label: string
  /** The database its writer writes to. */
  readonly databaseUrl: string
  /** What clients connect to. */
  readonly clientUrl: string
  /** Prometheus metrics, when the system has them (walcast). */
  readonly metricsUrl?: string
}

export async function startWalcastSystem(postgres: BenchPostgres, population: Population, suffix: string): Promise<SystemUnderTest> {
  const databaseUrl = await postgres.createDatabase(`bench_walcast_${suffix}`)
  await seedPopulation(databaseUrl, population)
  const walcast = await startWalcastProcess({
    DATABASE_URL: databaseUrl,
    WALCAST_JWT_SECRET: BENCH_JWT_SECRET,
    WALCAST_SLOT: `bench_${suffix}`,
    // The bench opens thousands of connections from one address and user space.
    NODE_OPTIONS: '--max-old-space-size=4096',
  })
  return { ...walcast, kind: 'walcast', label: 'walcast', databaseUrl, clientUrl: `ws://127.0.0.1:${walcast.port}/v1/ws`, metricsUrl: `http://127.0.0.1:${walcast.port}/metrics` }
}

export async function startSocketIoSystem(postgres: BenchPostgres, population: Population, suffix: string): Promise<SystemUnderTest> {
  const databaseUrl = await postgres.createDatabase(`bench_peer_${suffix}`)
  await seedPopulation(databaseUrl, population)
  await installPeerTrigger(databaseUrl)
  const { handle, ready } = await forkTs<{ ready: true; port: number }>(PEER_ENTRY, { DATABASE_URL: databaseUrl, PEER_JWT_SECRET: BENCH_JWT_SECRET })
  return { ...handle, kind: 'socketio', label: 'Socket.IO + NOTIFY', databaseUrl, clientUrl: `http://127.0.0.1:${ready.port}` }
}
