import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'

export interface WalcastProcess {
  readonly child: ChildProcess
  readonly pid: number
  stdout(): string
  stderr(): string
  /** Resolves with the exit code (or signal name) once the process has ended. */
  readonly exited: Promise<number | string>
  kill(signal: NodeJS.Signals): void
}

const ENTRY = path.resolve('src/cli/run.ts')

/**
 * Runs the walcast CLI in a child process with this test's own loader flags, so the
 * child's coverage counts and TypeScript runs the same way.
 */
export function spawnWalcast(args: string[], env: Record<string, string>, options: { plain?: boolean } = {}): WalcastProcess {
  const argv = options.plain ? ['--import', 'tsx', ENTRY, ...args] : [...process.execArgv, ENTRY, ...args]
  const child = spawn(process.execPath, argv, {
    env: { ...(options.plain ? plainEnv() : process.env), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout!.on('data', (chunk) => { out += String(chunk) })
  child.stderr!.on('data', (chunk) => { err += String(chunk) })
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1))
  })
  return {
    child,
    pid: child.pid!,
    stdout: () => out,
    stderr: () => err,
    exited,
    kill: (signal) => { child.kill(signal) },
  }
}

/**
 * The environment without the test runner's coverage and loader hooks: for a child whose
 * memory is measured, which must be walcast's alone (`plain`). Its coverage is not counted.
 */
function plainEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (key === 'NODE_V8_COVERAGE' || key === 'NODE_OPTIONS' || key.startsWith('_TAPJS') || key.startsWith('TAP')) continue
    env[key] = value
  }
  // tap still wraps every spawn with its process-info hook; this keeps the child's V8
  // coverage out of the report. Its sources are compiled by tsx, not the test loader, so
  // its counts would land on the wrong lines and pull every file's coverage down.
  env._TAPJS_PROCESSINFO_COVERAGE_ = '0'
  return env
}

/** The environment a test database's config was built from, for a child walcast. */
export function childEnv(tdb: { url: string; slot: string; publication: string }, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: tdb.url,
    WALCAST_SLOT: tdb.slot,
    WALCAST_PUBLICATION: tdb.publication,
    WALCAST_LOG_LEVEL: 'info',
    WALCAST_STATUS_INTERVAL: '1s',
    WALCAST_TAKEOVER_RETRY: '300ms',
    WALCAST_PORT: '0',
    ...extra,
  }
}
