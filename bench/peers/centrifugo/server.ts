import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { firstExecutable, onPath } from '../../lib/processes.ts'

/**
 * Centrifugo v6 as a benchmark peer: its own binary (not an npm package), started with
 * config.json beside this file; the port, the HMAC secret and the HTTP API key come from
 * the environment (Centrifugo's CENTRIFUGO_* variables override the file).
 */
export const CENTRIFUGO_VERSION = 'v6.9.1'
export const CENTRIFUGO_BUILD = `go install github.com/centrifugal/centrifugo/v6@${CENTRIFUGO_VERSION}`
const CONFIG = path.join(path.dirname(fileURLToPath(import.meta.url)), 'config.json')

/** CENTRIFUGO_BIN, then PATH, then Go's install directory; undefined when there is none. */
export function findCentrifugo(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return firstExecutable([env.CENTRIFUGO_BIN, ...onPath('centrifugo', env.PATH), path.join(goBinDir(env), 'centrifugo')])
}

function goBinDir(env: NodeJS.ProcessEnv): string {
  if (env.GOBIN !== undefined && env.GOBIN !== '') return env.GOBIN
  const gopath = env.GOPATH !== undefined && env.GOPATH !== '' ? env.GOPATH.split(':')[0]! : path.join(env.HOME ?? os.homedir(), 'go')
  return path.join(gopath, 'bin')
}

/**
 * The module version the binary was built from: `go install` leaves `centrifugo version`
 * at v0.0.0, but the build info (`go version -m`) names the module version.
 */
export function centrifugoVersion(binary: string): string {
  const info = spawnSync('go', ['version', '-m', binary], { encoding: 'utf8', timeout: 10_000 })
  const match = /^\s*mod\s+github\.com\/centrifugal\/centrifugo\/v\d+\s+(\S+)/m.exec(info.stdout ?? '')
  if (match !== null) return `Centrifugo ${match[1]}`
  const result = spawnSync(binary, ['version'], { encoding: 'utf8', timeout: 10_000 })
  return (result.stdout ?? '').trim().split('\n')[0] || 'unknown'
}

export interface CentrifugoOptions {
  readonly binary: string
  readonly port: number
  readonly secret: string
  readonly apiKey: string
}

export interface CentrifugoProcess {
  readonly pid: number
  readonly child: ChildProcess
  readonly apiUrl: string
  readonly clientUrl: string
  readonly metricsUrl: string
  /**
   * A full collection (Go's runtime.GC, through the pprof handler's `gc=1`), so memory
   * phases read its RSS after one as they read the Node servers' (ChildHandle.collectGarbage).
   */
  collectGarbage(): Promise<void>
  stop(): Promise<void>
}

export async function startCentrifugo(options: CentrifugoOptions, timeoutMs = 30_000): Promise<CentrifugoProcess> {
  const child = spawn(options.binary, ['--config', CONFIG], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? os.homedir(),
      CENTRIFUGO_HTTP_SERVER_PORT: String(options.port),
      CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY: options.secret,
      CENTRIFUGO_HTTP_API_KEY: options.apiKey,
      // Both cores, like the Node processes beside it (Go would use them all anyway).
      GOMAXPROCS: String(os.cpus().length),
      // /debug/pprof on the client port (loopback only): its heap handler collects on request.
      CENTRIFUGO_DEBUG_ENABLED: 'true',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000)
    process.stderr.write(chunk)
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const base = `http://127.0.0.1:${options.port}`
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (child.exitCode !== null) throw new Error(`centrifugo exited with ${child.exitCode} before it was ready: ${stderr.trim()}`)
    const ok = await fetch(`${base}/api/info`, { method: 'POST', headers: { 'X-API-Key': options.apiKey, 'Content-Type': 'application/json' }, body: '{}' })
      .then((res) => res.ok, () => false)
    if (ok) break
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`centrifugo not ready after ${timeoutMs} ms: ${stderr.trim()}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return {
    pid: child.pid!,
    child,
    apiUrl: `${base}/api`,
    clientUrl: `ws://127.0.0.1:${options.port}/connection/websocket`,
    metricsUrl: `${base}/metrics`,
    async collectGarbage() {
      const res = await fetch(`${base}/debug/pprof/heap?gc=1`, { signal: AbortSignal.timeout(10_000) })
      if (!res.ok) throw new Error(`centrifugo: /debug/pprof/heap answered ${res.status}`)
      await res.arrayBuffer()
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    },
  }
}
