/**
 * What every load run drives: Postgres (DATABASE_URL's server, or an embedded one in a temp
 * directory on a free port), a fresh database seeded with the benchmark population, and
 * walcast on a free loopback port. `npm run load` (k6) and `npm run soak` (Node clients)
 * both start it here, so the two see the same server.
 */
import { randomBytes } from 'node:crypto'
import { startBenchPostgres } from '../../bench/lib/postgres.ts'
import { startWalcastProcess, type WalcastProcess } from '../../bench/lib/processes.ts'
import { seedPopulation, type Population } from '../../bench/lib/seed.ts'

export interface LoadTarget {
  /** The run's database. */
  readonly url: string
  readonly secret: string
  readonly walcast: WalcastProcess
  /** ws://127.0.0.1:port/v1/ws */
  readonly wsUrl: string
  /** http://127.0.0.1:port/metrics */
  readonly metricsUrl: string
  /** Runs `stop` before walcast and Postgres stop (last added, first run). */
  onStop(stop: () => Promise<void>): void
  stop(): Promise<void>
}

export async function startLoadTarget(options: { databaseUrl: string | undefined; population: Population; prefix: string; env?: Record<string, string> }): Promise<LoadTarget> {
  const postgres = await startBenchPostgres(options.databaseUrl)
  const stops: Array<() => Promise<void>> = [() => postgres.stop()]
  const stop = async (): Promise<void> => {
    for (const step of stops.splice(0)) await step().catch((err: unknown) => process.stderr.write(`cleanup: ${String(err)}\n`))
  }
  try {
    const suffix = randomBytes(4).toString('hex')
    const url = await postgres.createDatabase(`walcast_${options.prefix}_${suffix}`)
    await seedPopulation(url, options.population)
    const secret = randomBytes(24).toString('hex')
    const walcast = await startWalcastProcess({ DATABASE_URL: url, WALCAST_JWT_SECRET: secret, WALCAST_SLOT: `${options.prefix}_${suffix}`, ...options.env })
    stops.unshift(() => walcast.stop())
    return {
      url,
      secret,
      walcast,
      wsUrl: `ws://127.0.0.1:${walcast.port}/v1/ws`,
      metricsUrl: `http://127.0.0.1:${walcast.port}/metrics`,
      onStop: (step) => { stops.unshift(step) },
      stop,
    }
  } catch (err) {
    await stop()
    throw err
  }
}
