import { cpuMeter, cpuSeconds } from '../lib/processes.ts'
import { pidsByCommandLine } from '../lib/sched.ts'
import { replayEscrow } from '../lib/seed.ts'
import { serverPids, type SystemUnderTest } from '../lib/systems.ts'
import { currentAmounts, startWriter } from '../lib/writer.ts'
import { median } from '../readings.ts'
import { openClients } from './clients.ts'
import { round, sleep, waitUntil, type BenchContext } from './context.ts'

/** One full replay: a new client reads the topic's whole history from the zero id. */
export interface ReplayRound {
  readonly events: number
  readonly firstEventMs: number
  readonly allEventsMs: number
  readonly eventsPerSecond: number
  readonly missing: number
  readonly duplicates: number
  /** Percent of one core over the replay: is the one reading client the limit? */
  readonly serverCpu: number
  readonly generatorCpu: number
  /** CPU time per replayed event (absent in older results): on a shared host it moves less than the wall clock. */
  readonly serverMicrosPerEvent?: number
  readonly generatorMicrosPerEvent?: number
  /** The system database's backends (the history pages are assembled there), per replayed event. */
  readonly postgresMicrosPerEvent?: number
}

/**
 * The replay phase. Each field above sums up the rounds: events/s, the times and the CPU
 * figures are medians, `events` the fewest any round received, gaps and duplicates the
 * total. Older results measured one replay and hold no `rounds`: that replay is their one
 * round (replayRounds).
 */
export interface ReplayResult extends ReplayRound {
  readonly rounds?: readonly ReplayRound[]
}

export interface ReplaySize {
  readonly events: number
  readonly rounds: number
}

/**
 * The phase's size, from the profile unless the environment says otherwise:
 * BENCH_REPLAY_ROUNDS (replays of the same history, each to a new client).
 */
export function replaySize(profile: BenchContext['profile'], env: NodeJS.ProcessEnv = process.env): ReplaySize {
  const value = env.BENCH_REPLAY_ROUNDS
  if (value === undefined || value === '') return { events: profile.replay.events, rounds: profile.replay.rounds }
  const rounds = Number(value)
  if (!Number.isInteger(rounds) || rounds <= 0) throw new Error(`BENCH_REPLAY_ROUNDS: expected a positive integer, got ${value}`)
  return { events: profile.replay.events, rounds }
}

/** A result's rounds: its own list, or the one replay an older result holds. */
export function replayRounds(result: ReplayResult): readonly ReplayRound[] {
  return result.rounds ?? [result]
}

/** The phase's result from its rounds (at least one), each kept as measured. */
export function summarizeReplay(rounds: readonly ReplayRound[]): ReplayResult {
  if (rounds.length === 0) throw new Error('summarizeReplay: no round')
  const mid = (pick: (r: ReplayRound) => number | undefined): number | undefined => {
    const values = rounds.map(pick).filter((v): v is number => v !== undefined)
    return values.length === rounds.length ? median(values) : undefined
  }
  const server = mid((r) => r.serverMicrosPerEvent)
  const generator = mid((r) => r.generatorMicrosPerEvent)
  const postgres = mid((r) => r.postgresMicrosPerEvent)
  return {
    events: Math.min(...rounds.map((r) => r.events)),
    firstEventMs: Math.round(mid((r) => r.firstEventMs)!),
    allEventsMs: Math.round(mid((r) => r.allEventsMs)!),
    eventsPerSecond: Math.round(mid((r) => r.eventsPerSecond)!),
    missing: rounds.reduce((sum, r) => sum + r.missing, 0),
    duplicates: rounds.reduce((sum, r) => sum + r.duplicates, 0),
    serverCpu: round(mid((r) => r.serverCpu)!),
    generatorCpu: round(mid((r) => r.generatorCpu)!),
    ...(server === undefined ? {} : { serverMicrosPerEvent: round(server, 2) }),
    ...(generator === undefined ? {} : { generatorMicrosPerEvent: round(generator, 2) }),
    ...(postgres === undefined ? {} : { postgresMicrosPerEvent: round(postgres, 2) }),
    rounds,
  }
}

/**
 * A topic holding `events` events, durable in history; then, round after round, one new
 * client resumes from its beginning and reads it all. One sub-second replay on a shared
 * 2-core host says as much about the host as about walcast: the figure is the median.
 */
export async function measureReplay(context: BenchContext, system: SystemUnderTest, size: ReplaySize = replaySize(context.profile)): Promise<ReplayResult> {
  const escrow = replayEscrow(context.profile.population)
  const writer = await startWriter({ url: system.databaseUrl, escrows: [escrow], rowsPerTransaction: 100, eventsPerSecond: 0, durationMs: 300_000, maxEvents: size.events })
  await writer.done
  // The replay must come from history: wait until walcast has it all durable.
  const wanted = (await currentAmounts(system.databaseUrl)).get(escrow) ?? 0
  await sleep(500)
  await waitUntil(async () => {
    const done = await historyCount(system.databaseUrl, `escrow:${escrow}`)
    return done >= wanted ? true : undefined
  }, 120_000, 200)
  const rounds: ReplayRound[] = []
  for (let r = 1; r <= size.rounds; r++) {
    rounds.push(await replayOnce(context, system, `escrow:${escrow}`, size.events))
    const last = rounds.at(-1)!
    context.log(`replay r${r}/${size.rounds}: ${last.events} events in ${last.allEventsMs} ms (${last.eventsPerSecond}/s), first after ${last.firstEventMs} ms; CPU µs/event: walcast ${last.serverMicrosPerEvent} (${last.serverCpu}% of a core), Postgres ${last.postgresMicrosPerEvent}, generator ${last.generatorMicrosPerEvent} (${last.generatorCpu}%)`)
    await sleep(300)
  }
  const result = summarizeReplay(rounds)
  context.log(`replay: median ${result.eventsPerSecond}/s over ${rounds.length} round(s): ${rounds.map((r) => r.eventsPerSecond).join(' / ')}`)
  return result
}

async function replayOnce(context: BenchContext, system: SystemUnderTest, topic: string, events: number): Promise<ReplayRound> {
  // First: finding the backends reads every process's command line, not the replay's time.
  const postgres = backendCpu(new URL(system.databaseUrl).pathname.slice(1))
  const started = Date.now()
  const t0 = performance.now()
  const meter = cpuMeter({ server: serverPids(system), generator: context.generator.pid })
  try {
    await openClients(context, system, [{ user: 1, topics: [topic] }], { since: '0000000000000000-00000000' })
    const stats = await waitUntil(async () => {
      const s = await context.generator.stats()
      return s.received >= events ? s : undefined
    }, 120_000, 10) ?? await context.generator.stats()
    const cpu = meter.stop()
    const windowSeconds = (performance.now() - t0) / 1000
    const postgresSeconds = postgres.stop()
    const all = (stats.lastEventAt ?? started) - started
    const perEvent = (percent: number): number => round((percent / 100) * windowSeconds * 1e6 / Math.max(1, stats.received), 2)
    return {
      events: stats.received,
      firstEventMs: Math.round((stats.firstEventAt ?? started) - started),
      allEventsMs: Math.round(all),
      eventsPerSecond: Math.round(stats.received / Math.max(all / 1000, 0.001)),
      missing: stats.missing,
      duplicates: stats.duplicates,
      serverCpu: cpu.server!,
      generatorCpu: cpu.generator!,
      serverMicrosPerEvent: perEvent(cpu.server!),
      generatorMicrosPerEvent: perEvent(cpu.generator!),
      postgresMicrosPerEvent: round(postgresSeconds * 1e6 / Math.max(1, stats.received), 2),
    }
  } finally {
    await context.generator.closeClients()
  }
}

/**
 * CPU seconds the backends of one database used from now until stop(): each system has a
 * database of its own, and Postgres titles a backend with it. A backend that exits
 * meanwhile takes its CPU with it (walcast's pool keeps its connections).
 */
export function backendCpu(database: string): { stop(): number } {
  const read = (): Map<number, number> => {
    const cpu = new Map<number, number>()
    for (const pid of pidsByCommandLine(` ${database} `)) {
      try {
        cpu.set(pid, cpuSeconds(pid))
      } catch {
        // exited meanwhile
      }
    }
    return cpu
  }
  const before = read()
  return {
    stop: () => [...read()].reduce((sum, [pid, cpu]) => sum + Math.max(0, cpu - (before.get(pid) ?? 0)), 0),
  }
}

async function historyCount(url: string, topic: string): Promise<number> {
  const pg = (await import('pg')).default
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const result = await client.query<{ n: string }>('SELECT count(*) AS n FROM walcast.event_topics WHERE topic = $1', [topic])
    return Number(result.rows[0]?.n ?? 0)
  } finally {
    await client.end()
  }
}
