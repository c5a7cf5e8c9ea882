/**
 * The load generator: a child process holding many client sockets (ClientPool), driven by
 * the benchmark over IPC so its CPU is measured apart from the server's.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { ClientPool, type ClientSpec, type PoolOptions } from './clients.ts'

interface Request { id: number; cmd: string; args?: unknown }

let pool: ClientPool | undefined

// Every frame of every client waits its turn on this one event loop: how long the loop was
// held up, and how busy it was, tells how much of a latency read here is the generator's own.
const loopDelay = monitorEventLoopDelay({ resolution: 1 })
loopDelay.enable()
let loopSince = performance.eventLoopUtilization()

function loop(): { delayMs: { p50: number; p99: number; max: number }; utilization: number } {
  const ms = (ns: number): number => Math.round(ns / 1e4) / 100
  return {
    delayMs: { p50: ms(loopDelay.percentile(50)), p99: ms(loopDelay.percentile(99)), max: ms(loopDelay.max) },
    utilization: Math.round(performance.eventLoopUtilization(loopSince).utilization * 1000) / 1000,
  }
}

async function handle(request: Request): Promise<unknown> {
  switch (request.cmd) {
    case 'open': {
      const { options, timeoutMs } = request.args as { options: PoolOptions; timeoutMs: number }
      pool?.close()
      pool = new ClientPool(options)
      return pool.open(timeoutMs)
    }
    case 'openMore': {
      const { clients, timeoutMs } = request.args as { clients: ClientSpec[]; timeoutMs: number }
      if (pool === undefined) throw new Error('openMore: no pool is open')
      return pool.open(timeoutMs, clients)
    }
    case 'stats': {
      const { start, final } = (request.args ?? {}) as { start?: Record<string, number>; final?: Record<string, number> }
      return pool?.stats(start, final)
    }
    case 'tally': {
      const { start, final } = request.args as { start: Record<string, number>; final: Record<string, number> }
      return pool?.tally(start, final)
    }
    case 'behind': {
      const { start, final } = request.args as { start: Record<string, number>; final: Record<string, number> }
      return pool?.behind(start, final) ?? []
    }
    case 'counts':
      return pool?.counts()
    case 'latencies':
      return pool?.latencySamples() ?? []
    case 'loop':
      return loop()
    case 'resetStats':
      pool?.resetStats()
      loopDelay.reset()
      loopSince = performance.eventLoopUtilization()
      return true
    case 'dropAll':
      pool?.dropAll()
      return true
    case 'awayAll':
      pool?.awayAll()
      return true
    case 'returnAll':
      return pool?.returnAll()
    case 'pauseSlow':
      pool?.pauseSlow()
      return true
    case 'resumeSlow':
      pool?.resumeSlow()
      return true
    case 'close':
      pool?.close()
      pool = undefined
      return true
    default:
      throw new Error(`unknown command ${request.cmd}`)
  }
}

process.on('message', (message) => {
  if (message === 'stop') {
    pool?.close()
    setTimeout(() => process.exit(0), 200)
    return
  }
  const request = message as Request
  handle(request).then(
    (result) => process.send?.({ id: request.id, result }),
    (err: unknown) => process.send?.({ id: request.id, error: err instanceof Error ? err.message : String(err) }),
  )
})
process.send?.({ ready: true })
