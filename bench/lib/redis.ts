import { spawn } from 'node:child_process'
import net from 'node:net'
import { freePort } from './postgres.ts'
import { firstExecutable, onPath } from './processes.ts'

export interface BenchRedis {
  readonly pid: number
  readonly url: string
  stop(): Promise<void>
}

/** Debian's redis-server (REDIS_SERVER_BIN, then PATH), or undefined when it is not installed. */
export function findRedisServer(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return firstExecutable([env.REDIS_SERVER_BIN, ...onPath('redis-server', env.PATH)])
}

const answers = (port: number): Promise<boolean> => new Promise((resolve) => {
  const socket = net.connect(port, '127.0.0.1')
  let reply = ''
  socket.setTimeout(1000, () => { socket.destroy(); resolve(false) })
  socket.on('error', () => resolve(false))
  socket.on('connect', () => socket.write('PING\r\n'))
  socket.on('data', (chunk) => {
    reply += String(chunk)
    if (reply.includes('\r\n')) { socket.destroy(); resolve(reply.startsWith('+PONG')) }
  })
})

/** A throwaway Redis on a free loopback port, settings as docs/scaling.md recommends (no persistence, noeviction). */
export async function startBenchRedis(binary: string): Promise<BenchRedis> {
  const port = await freePort()
  const child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
    await exited
    clearTimeout(timer)
  }
  const deadline = Date.now() + 15_000
  while (!(await answers(port))) {
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop()
      throw new Error(`redis-server did not answer on 127.0.0.1:${port} within 15 s`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return { pid: child.pid!, url: `redis://127.0.0.1:${port}`, stop }
}
