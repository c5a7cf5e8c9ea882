/**
 * The load generator: a child process holding many client sockets (ClientPool), driven by
 * the benchmark over IPC so its CPU is measured apart from the server's.
 */
import { ClientPool, type PoolOptions } from './clients.ts'

interface Request { id: number; cmd: string; args?: unknown }

let pool: ClientPool | undefined

async function handle(request: Request): Promise<unknown> {
  switch (request.cmd) {
    case 'open': {
      const { options, timeoutMs } = request.args as { options: PoolOptions; timeoutMs: number }
      pool?.close()
      pool = new ClientPool(options)
      return pool.open(timeoutMs)
    }
    case 'stats': {
      const { start, final } = (request.args ?? {}) as { start?: Record<string, number>; final?: Record<string, number> }
      return pool?.stats(start, final)
    }
    case 'tally': {
      const { start, final } = request.args as { start: Record<string, number>; final: Record<string, number> }
      return pool?.tally(start, final)
    }
    case 'counts':
      return pool?.counts()
    case 'resetStats':
      pool?.resetStats()
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
