import { fork, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const HERE = path.dirname(fileURLToPath(import.meta.url))
export const REPO = path.resolve(HERE, '../..')

export interface ChildHandle {
  readonly pid: number
  readonly child: ChildProcess
  /** Graceful stop (IPC 'stop', then SIGTERM, then SIGKILL), bounded in time. */
  stop(): Promise<void>
  /** A full garbage collection in the child (IPC 'gc'), so RSS is compared without garbage; its memory after it. */
  collectGarbage(): Promise<NodeJS.MemoryUsage | undefined>
}

export interface WalcastProcess extends ChildHandle {
  readonly port: number
}

function uncountedEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' }
  delete env.NODE_V8_COVERAGE
  return env
}

/**
 * Forks an entry with IPC (a .ts one under tsx, a .mjs one on plain node); resolves on its
 * first `{ ready }` message.
 */
export async function forkTs<T extends { ready: true }>(entry: string, env: Record<string, string>, timeoutMs = 60_000, nodeArgs: readonly string[] = []): Promise<{ handle: ChildHandle; ready: T }> {
  const child = fork(entry, [], {
    // --expose-gc: memory phases collect garbage before they read RSS (collectGarbage).
    execArgv: [...(entry.endsWith('.ts') ? ['--import', 'tsx'] : []), '--expose-gc', ...nodeArgs],
    // Under tap (the k6 smoke test) a tsx child's coverage would be merged onto the wrong
    // lines of src/: these children are measured, not counted.
    env: { ...uncountedEnv(), ...env },
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    cwd: REPO,
  })
  forwardStderr(child)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const ready = await new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${path.basename(entry)} not ready after ${timeoutMs} ms`)), timeoutMs)
    child.on('message', (message) => {
      if (message !== null && typeof message === 'object' && (message as { ready?: unknown }).ready === true) {
        clearTimeout(timer)
        resolve(message as T)
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${path.basename(entry)} exited with ${code} before it was ready`))
    })
  }).catch(async (err: unknown) => {
    child.kill('SIGKILL')
    throw err
  })
  const handle: ChildHandle = {
    pid: child.pid!,
    child,
    collectGarbage: () => new Promise<NodeJS.MemoryUsage | undefined>((resolve) => {
      // Three full collections of a heap holding 10,000 connections' state take seconds on
      // a busy host: a reading taken before they end would count garbage.
      const timer = setTimeout(done, 30_000)
      function done(memory?: NodeJS.MemoryUsage): void {
        clearTimeout(timer)
        child.off('message', onMessage)
        resolve(memory)
      }
      function onMessage(message: unknown): void {
        if (message !== null && typeof message === 'object' && (message as { gc?: unknown }).gc === true) done((message as { memory?: NodeJS.MemoryUsage }).memory)
      }
      child.on('message', onMessage)
      if (child.connected) child.send('gc')
      else done(undefined)
    }),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      if (child.connected) child.send('stop')
      const timer1 = setTimeout(() => child.kill('SIGTERM'), 10_000)
      const timer2 = setTimeout(() => child.kill('SIGKILL'), 15_000)
      await exited
      clearTimeout(timer1)
      clearTimeout(timer2)
    },
  }
  return { handle, ready }
}

/**
 * walcast in its own process on a free loopback port: the build (dist/, what `npm start`
 * and `walcast serve` run), never the sources through tsx, whose compiler would count in
 * its start-up and memory. `npm run bench` builds first (prebench). With
 * BENCH_CPU_PROF_DIR set, it writes a V8 CPU profile there when it stops (`--cpu-prof`
 * is refused in NODE_OPTIONS, and profiling the driver too would blur the picture).
 */
export async function startWalcastProcess(env: Record<string, string>): Promise<WalcastProcess> {
  const profileDir = process.env.BENCH_CPU_PROF_DIR
  const nodeArgs = profileDir === undefined || profileDir === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]
  if (!fs.existsSync(path.join(REPO, 'dist/service.js'))) throw new Error('the bench runs the built walcast and dist/ has none: run `npm run build` (npm run bench does)')
  const { handle, ready } = await forkTs<{ ready: true; port: number }>(path.join(HERE, 'walcast-child.mjs'), {
    WALCAST_HOST: '127.0.0.1',
    WALCAST_PORT: '0',
    WALCAST_LOG_LEVEL: 'warn',
    ...env,
  }, 60_000, nodeArgs)
  return { ...handle, port: ready.port }
}

/** Resident set size of a process, in bytes (Linux /proc). */
export function rssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /VmRSS:\s+(\d+) kB/.exec(status)
  return match === null ? 0 : Number(match[1]) * 1024
}

/** Peak resident set size (VmHWM), in bytes. */
export function peakRssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /VmHWM:\s+(\d+) kB/.exec(status)
  return match === null ? 0 : Number(match[1]) * 1024
}

const TICKS = 100

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / TICKS
}

/**
 * How busy the host's cores were between start() and stop(), in percent of all of them
 * (/proc/stat): whatever else runs on the machine counts too.
 */
export function hostCpuMeter(): { stop(): number } {
  const read = (): { busy: number; total: number } => {
    const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
    const total = fields.reduce((a, b) => a + b, 0)
    // idle + iowait are the cores' unused time.
    return { busy: total - (fields[3] ?? 0) - (fields[4] ?? 0), total }
  }
  const before = read()
  return {
    stop() {
      const after = read()
      const total = after.total - before.total
      return total <= 0 ? 0 : Math.round(((after.busy - before.busy) / total) * 1000) / 10
    },
  }
}

/** Kernel TCP socket memory in bytes (/proc/net/sockstat "mem", in pages). */
export function tcpSocketMemoryBytes(): number {
  const text = fs.readFileSync('/proc/net/sockstat', 'utf8')
  const match = /TCP:.* mem (\d+)/.exec(text)
  return match === null ? 0 : Number(match[1]) * 4096
}

/**
 * Samples CPU of a set of processes between start() and stop(): percent of one core. A
 * name may stand for several processes (a server and its feeder): their CPU is summed.
 */
export function cpuMeter(pids: Record<string, number | readonly number[]>): { stop(): Record<string, number> } {
  const t0 = performance.now()
  const sample = (pid: number | readonly number[]): number => (typeof pid === 'number' ? [pid] : pid).reduce((sum, p) => sum + safeCpu(p), 0)
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, sample(pid)]))
  return {
    stop() {
      const seconds = (performance.now() - t0) / 1000
      return Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, Math.round(((sample(pid) - before[name]!) / seconds) * 1000) / 10]))
    },
  }
}

function safeCpu(pid: number): number {
  try {
    return cpuSeconds(pid)
  } catch {
    return 0
  }
}

export function findK6(): string | undefined {
  const candidates = [process.env.K6_BIN, ...((process.env.PATH ?? '').split(':').map((dir) => path.join(dir, 'k6'))), path.join(os.homedir(), 'go/bin/k6')]
  for (const candidate of candidates) {
    if (candidate !== undefined && candidate !== '' && fs.existsSync(candidate)) return candidate
  }
  return undefined
}

/** The first candidate that is a file this process may run (an explicit setting, PATH, a known directory). */
export function firstExecutable(candidates: ReadonlyArray<string | undefined>): string | undefined {
  return candidates.find((file): file is string => {
    if (file === undefined || file === '') return false
    try {
      fs.accessSync(file, fs.constants.X_OK)
      return fs.statSync(file).isFile()
    } catch {
      return false
    }
  })
}

/** `name` in each directory of a PATH-style list. */
export function onPath(name: string, list: string | undefined): string[] {
  return (list ?? '').split(':').filter((dir) => dir !== '').map((dir) => path.join(dir, name))
}

/** Samples a process's RSS every `intervalMs` until stop(): the last and the highest value, in bytes. */
export function rssSampler(pid: number, intervalMs = 100): { stop(): { last: number; peak: number } } {
  let last = safeRss(pid)
  let peak = last
  const timer = setInterval(() => {
    last = safeRss(pid)
    peak = Math.max(peak, last)
  }, intervalMs)
  return {
    stop() {
      clearInterval(timer)
      last = safeRss(pid)
      return { last, peak: Math.max(peak, last) }
    },
  }
}

function safeRss(pid: number): number {
  try {
    return rssBytes(pid)
  } catch {
    return 0
  }
}

/** CPU seconds used so far by every `postgres` process on this host (the walsender, backends, ...). */
export function postgresCpuSeconds(): number {
  let total = 0
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8')
      if (!stat.includes('(postgres)')) continue
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      total += (Number(fields[11]) + Number(fields[12])) / TICKS
    } catch {
      // The process ended while we looked.
    }
  }
  return total
}

// uWebSockets.js prints this once per WebSocket upgrade (see docs/operations.md): with
// thousands of benchmark clients it would bury everything else the children say.
const UWS_CORK_WARNING = 'Warning: uWS.HttpResponse writes must be made from within a corked callback'

function forwardStderr(child: ChildProcess): void {
  let partial = ''
  const keep = (line: string): boolean => !line.startsWith(UWS_CORK_WARNING)
  child.stderr?.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n')
    partial = lines.pop() ?? ''
    const kept = lines.filter(keep)
    if (kept.length > 0) process.stderr.write(`${kept.join('\n')}\n`)
  })
  child.stderr?.on('end', () => { if (partial !== '' && keep(partial)) process.stderr.write(`${partial}\n`) })
}
