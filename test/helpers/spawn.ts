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
const BUILT = path.resolve('bin/walcast.js')

/**
 * Runs the walcast CLI in a child process with this test's own loader flags, so the
 * child's coverage counts and TypeScript runs the same way. `built`: the compiled CLI
 * (bin/walcast.js → dist/) on plain node, as users run it (implies `plain`).
 */
export function spawnWalcast(args: string[], env: Record<string, string>, options: { plain?: boolean; built?: boolean; nodeArgs?: readonly string[] } = {}): WalcastProcess {
  const nodeArgs = options.nodeArgs ?? []
  if (options.built) options = { ...options, plain: true }
  const argv = options.built ? [...nodeArgs, BUILT, ...args] : options.plain ? ['--import', 'tsx', ...nodeArgs, ENTRY, ...args] : [...process.execArgv, ...nodeArgs, ENTRY, ...args]
  // tap's processinfo hooks spawn() and puts its coverage loader back into any child's
  // environment; `env -u` strips it again for a plain child. (Such a child's coverage,
  // compiled by tsx rather than tap's loader, would otherwise be merged by file URL with
  // the in-process coverage and corrupt the line counts of every src file.)
  const [command, commandArgs] = options.plain
    ? ['env', ['-u', 'NODE_OPTIONS', '-u', 'NODE_V8_COVERAGE', process.execPath, ...argv]]
    : [process.execPath, argv]
  const child = spawn(command, commandArgs, {
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
