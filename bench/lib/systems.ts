import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'
import { CENTRIFUGO_BUILD, centrifugoVersion, findCentrifugo, startCentrifugo } from '../peers/centrifugo/server.ts'
import { installPeerTrigger } from '../peers/socketio-notify/server.ts'
import type { SystemKind } from './clients.ts'
import { freePort, type BenchPostgres } from './postgres.ts'
import { forkTs, startWalcastProcess, type ChildHandle } from './processes.ts'
import { seedPopulation, type Population } from './seed.ts'
import { BENCH_JWT_SECRET } from './token.ts'

const PEERS = path.join(path.dirname(fileURLToPath(import.meta.url)), '../peers')
const PEER_ENTRY = path.join(PEERS, 'socketio-notify/child.ts')
const FEEDER_ENTRY = path.join(PEERS, 'centrifugo/feeder.ts')
const UWS_FLOOR_ENTRY = path.join(PEERS, '../floors/uws-floor.ts')

/** A push server under test, in its own process, on its own database of one cluster. */
export interface SystemUnderTest extends ChildHandle {
  readonly kind: SystemKind
  readonly label: string
  /** The database its writer writes to. */
  readonly databaseUrl: string
  /** What clients connect to. */
  readonly clientUrl: string
  /** Prometheus metrics, when the system has them (walcast, Centrifugo). */
  readonly metricsUrl?: string
  /** Slow-consumer closes the server counted so far (its Prometheus metrics); absent when it has no such limit. */
  readonly slowConsumerCloses?: () => Promise<number | undefined>
  /** Other processes on its path whose CPU counts as the server's (Centrifugo's feeder). */
  readonly helperPids?: readonly number[]
  /** Its version, when it is not this repository's code. */
  readonly version?: string
}

/** The processes whose CPU is the system's. */
export function serverPids(system: SystemUnderTest): number[] {
  return [system.pid, ...(system.helperPids ?? [])]
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
  const metricsUrl = `http://127.0.0.1:${walcast.port}/metrics`
  return {
    ...walcast, kind: 'walcast', label: 'walcast', databaseUrl, clientUrl: `ws://127.0.0.1:${walcast.port}/v1/ws`, metricsUrl,
    slowConsumerCloses: () => readCounter(metricsUrl, /^walcast_gateway_slow_consumer_closes_total (\d+)/m, undefined),
  }
}

export async function startSocketIoSystem(postgres: BenchPostgres, population: Population, suffix: string): Promise<SystemUnderTest> {
  const databaseUrl = await postgres.createDatabase(`bench_peer_${suffix}`)
  await seedPopulation(databaseUrl, population)
  await installPeerTrigger(databaseUrl)
  const { handle, ready } = await forkTs<{ ready: true; port: number }>(PEER_ENTRY, { DATABASE_URL: databaseUrl, PEER_JWT_SECRET: BENCH_JWT_SECRET })
  return { ...handle, kind: 'socketio', label: 'Socket.IO + NOTIFY', databaseUrl, clientUrl: `http://127.0.0.1:${ready.port}` }
}

/**
 * Centrifugo v6 (history and recovery on), fed through its HTTP API by a feeder that
 * LISTENs to the same trigger as the Socket.IO peer. Returns the reason instead when the
 * binary is not installed: the benchmark runs without it.
 */
export async function startCentrifugoSystem(postgres: BenchPostgres, population: Population, suffix: string): Promise<SystemUnderTest | { notMeasured: string }> {
  const binary = findCentrifugo()
  if (binary === undefined) return { notMeasured: `no centrifugo binary (CENTRIFUGO_BIN, PATH or $(go env GOPATH)/bin); build it with \`${CENTRIFUGO_BUILD}\`` }
  const databaseUrl = await postgres.createDatabase(`bench_centrifugo_${suffix}`)
  await seedPopulation(databaseUrl, population)
  await installPeerTrigger(databaseUrl)
  const apiKey = randomBytes(16).toString('hex')
  const server = await startCentrifugo({ binary, port: await freePort(), secret: BENCH_JWT_SECRET, apiKey })
  let feeder: ChildHandle
  try {
    feeder = (await forkTs(FEEDER_ENTRY, { DATABASE_URL: databaseUrl, CENTRIFUGO_API_URL: server.apiUrl, CENTRIFUGO_API_KEY: apiKey })).handle
  } catch (err) {
    await server.stop()
    throw err
  }
  return {
    kind: 'centrifugo',
    label: 'Centrifugo',
    pid: server.pid,
    child: server.child,
    databaseUrl,
    clientUrl: server.clientUrl,
    metricsUrl: server.metricsUrl,
    // Its client queue limit (client.queue_max_size, 1 MB like walcast's) closes with 3008 "slow";
    // the counter appears with the first such close.
    slowConsumerCloses: () => readCounter(server.metricsUrl, /^centrifugo_client_num_server_disconnects\{code="3008"\} (\d+)/m, 0),
    helperPids: [feeder.pid],
    version: centrifugoVersion(binary),
    // A Go process: a collection on request, but no V8 heap figures to return.
    collectGarbage: async () => {
      await server.collectGarbage()
      return undefined
    },
    async stop() {
      await feeder.stop().catch(() => {})
      await server.stop()
    },
  }
}

/**
 * Another instance of `kind`, on its own database named with `suffix`: the idle-memory
 * phase measures fresh processes, whatever earlier phases left in the long-running ones.
 */
export async function startSystemOfKind(kind: SystemKind, postgres: BenchPostgres, population: Population, suffix: string): Promise<SystemUnderTest | { notMeasured: string }> {
  switch (kind) {
    case 'walcast': return startWalcastSystem(postgres, population, suffix)
    case 'socketio': return startSocketIoSystem(postgres, population, suffix)
    case 'centrifugo': return startCentrifugoSystem(postgres, population, suffix)
    case 'uws-floor': return startUwsFloorSystem(postgres, population, suffix)
  }
}

async function readCounter(url: string, pattern: RegExp, absent: number | undefined): Promise<number | undefined> {
  const text = await (await fetch(url)).text()
  const match = pattern.exec(text)
  return match === null ? absent : Number(match[1])
}

/**
 * The fan-out floor: bare uWebSockets.js publishing the trigger's NOTIFY payloads as
 * pre-serialized frames (bench/floors/uws-floor.ts), on its own database. Measured in the
 * fan-out phase only.
 */
export async function startUwsFloorSystem(postgres: BenchPostgres, population: Population, suffix: string): Promise<SystemUnderTest> {
  const databaseUrl = await postgres.createDatabase(`bench_uws_floor_${suffix}`)
  await seedPopulation(databaseUrl, population)
  await installPeerTrigger(databaseUrl)
  const { handle, ready } = await forkTs<{ ready: true; port: number }>(UWS_FLOOR_ENTRY, { DATABASE_URL: databaseUrl })
  return { ...handle, kind: 'uws-floor', label: 'bare uWS (floor)', databaseUrl, clientUrl: `ws://127.0.0.1:${ready.port}/` }
}
