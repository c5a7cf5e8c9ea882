import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import type { Test } from 'tap'
import { freePort } from './own-server.ts'
import { waitFor } from './wait.ts'

export interface TestRedis {
  readonly port: number
  readonly url: string
  /** Kills the server (SIGKILL: nothing flushed, clients see the connection drop). */
  stop(): Promise<void>
  /** Starts it again on the same port, empty (no persistence). */
  start(): Promise<void>
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

/**
 * Debian's redis-server on a free loopback port, no persistence (as docs/scaling.md
 * allows), stopped at teardown.
 */
export async function startTestRedis(t: Test): Promise<TestRedis> {
  const port = await freePort()
  let child: ChildProcess | undefined
  let exited: Promise<void> = Promise.resolve()
  async function start(): Promise<void> {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' })
    const current = child
    exited = new Promise((resolve) => current.once('exit', () => resolve()))
    await waitFor(() => answers(port), 15_000, `redis-server on ${port}`)
  }
  async function stop(): Promise<void> {
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGKILL')
    await exited
  }
  await start()
  t.teardown(stop)
  return { port, url: `redis://127.0.0.1:${port}`, stop, start }
}
