import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { BehindClient, ClientSpec, PoolOptions, PoolStats, PoolTally } from './clients.ts'
import type { Percentiles } from './latencies.ts'
import { forkTs, type ChildHandle } from './processes.ts'

const ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'load-generator.ts')

export interface GeneratorLoop {
  readonly delayMs: { readonly p50: number; readonly p99: number; readonly max: number }
  readonly utilization: number
}

/** The driver's side of the load generator process. */
export interface LoadGenerator extends ChildHandle {
  open(options: PoolOptions, timeoutMs: number): Promise<{ connected: number; subscribeMs: Percentiles }>
  /** More clients beside the open ones, on the same options; `connected` counts them all. */
  openMore(clients: readonly ClientSpec[], timeoutMs: number): Promise<{ connected: number; subscribeMs: Percentiles }>
  stats(start?: Record<string, number>, final?: Record<string, number>): Promise<PoolStats>
  /** Closes and loss without the latency percentiles (cheap to poll); undefined with no clients open. */
  tally(start: Record<string, number>, final: Record<string, number>): Promise<PoolTally | undefined>
  /** The clients still missing events, with where each connection stands (a phase's bound passed). */
  behind(start: Record<string, number>, final: Record<string, number>): Promise<BehindClient[]>
  /** Open clients and events received: cheap to poll, unlike stats() (which sorts every latency). */
  counts(): Promise<{ open: number; received: number } | undefined>
  /** Resets the latencies and counts, and the event-loop figures of loop(). */
  resetStats(): Promise<void>
  /** The latencies kept since resetStats (ms), to merge with other generators' before taking percentiles. */
  latencies(): Promise<number[]>
  /** The generator's event loop since resetStats: its delay (monitorEventLoopDelay) and utilization (0–1). */
  loop(): Promise<GeneratorLoop>
  dropAll(): Promise<void>
  /** Every client disconnects and stays away until returnAll (the resume storm). */
  awayAll(): Promise<void>
  /** Resolves with the generator's clock at the return (the clock of PoolStats.lastEventAt). */
  returnAll(): Promise<number>
  /** The clients opened with `slow: true` stop reading / read again. */
  pauseSlow(): Promise<void>
  resumeSlow(): Promise<void>
  closeClients(): Promise<void>
}

export async function startLoadGenerator(): Promise<LoadGenerator> {
  // BENCH_GEN_CPU_PROF_DIR: a V8 CPU profile of the load generator (the clients' side of a phase).
  const profileDir = process.env.BENCH_GEN_CPU_PROF_DIR
  const nodeArgs = profileDir === undefined || profileDir === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]
  const { handle } = await forkTs(ENTRY, { NODE_OPTIONS: '--max-old-space-size=4096' }, 60_000, nodeArgs)
  let nextId = 0
  const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>()
  handle.child.on('message', (message) => {
    const reply = message as { id?: number; result?: unknown; error?: string }
    if (reply.id === undefined) return
    const entry = waiting.get(reply.id)
    waiting.delete(reply.id)
    if (reply.error !== undefined) entry?.reject(new Error(reply.error))
    else entry?.resolve(reply.result)
  })
  const call = <T>(cmd: string, args?: unknown): Promise<T> => new Promise<T>((resolve, reject) => {
    const id = nextId++
    waiting.set(id, { resolve: resolve as (value: unknown) => void, reject })
    handle.child.send({ id, cmd, args })
  })
  return {
    ...handle,
    open: (options, timeoutMs) => call('open', { options, timeoutMs }),
    openMore: (clients, timeoutMs) => call('openMore', { clients, timeoutMs }),
    stats: (start, final) => call('stats', { start, final }),
    tally: (start, final) => call('tally', { start, final }),
    behind: (start, final) => call('behind', { start, final }),
    counts: () => call('counts'),
    resetStats: () => call('resetStats'),
    latencies: () => call('latencies'),
    loop: () => call('loop'),
    dropAll: () => call('dropAll'),
    awayAll: () => call('awayAll'),
    returnAll: () => call('returnAll'),
    pauseSlow: () => call('pauseSlow'),
    resumeSlow: () => call('resumeSlow'),
    closeClients: () => call('close'),
  }
}
