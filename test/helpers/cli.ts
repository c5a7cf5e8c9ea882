import { spawn } from 'node:child_process'

export interface CliResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs the walcast CLI as a child process through the same loader (and coverage) as the
 * test itself. `env` replaces every DATABASE_URL/WALCAST_* variable of this process.
 */
export async function runCli(args: readonly string[], env: Record<string, string>): Promise<CliResult> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'DATABASE_URL' && !k.startsWith('WALCAST_')))
  const child = spawn(process.execPath, [...process.execArgv, 'src/cli/run.ts', ...args], {
    env: { ...base, WALCAST_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => { stdout += chunk })
  child.stderr.on('data', (chunk) => { stderr += chunk })
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)))
  return { code, stdout, stderr }
}

/** The env a CLI needs to act on a test database (its slot and publication). */
export function cliEnv(tdb: { url: string; slot: string; publication: string }, extra: Record<string, string> = {}): Record<string, string> {
  return { DATABASE_URL: tdb.url, WALCAST_SLOT: tdb.slot, WALCAST_PUBLICATION: tdb.publication, ...extra }
}
