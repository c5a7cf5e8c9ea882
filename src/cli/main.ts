import { loadConfig } from '../config.ts'
import { createLogger } from '../log.ts'
import { isWalcastError, WalcastError } from '../errors.ts'
import { runServe } from './serve.ts'
import { runMigrate } from './migrate.ts'
import { runDemo } from './demo.ts'

const HELP = `walcast: Postgres logical replication to a lossless real-time push feed

Usage: walcast [command] [--json]

Commands:
  serve            run the service (default)
  migrate          apply the numbered SQL files of sql/
  demo             write demo escrow activity (users 1-3) so events flow
  help             this text

Configuration comes from environment variables: see docs/operations.md.`

export async function main(argv: string[]): Promise<number> {
  const args = argv.filter((a) => !a.startsWith('--'))
  const command = args[0] ?? 'serve'
  if (command === 'help' || argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${HELP}\n`)
    return 0
  }
  try {
    const config = loadConfig()
    const log = createLogger(config.log)
    switch (command) {
      case 'serve':
        return await runServe(config, log)
      case 'migrate':
        return await runMigrate(config, log, argv.includes('--json'))
      case 'demo':
        return await runDemo(config, log)
      default:
        process.stderr.write(`walcast: unknown command ${JSON.stringify(command)}\nhint: run walcast --help\n`)
        return 2
    }
  } catch (err) {
    reportFailure(err)
    return 1
  }
}

/** One clear line plus a hint; a stack only for what is not a known failure. */
export function reportFailure(err: unknown): void {
  if (isWalcastError(err)) {
    process.stderr.write(`walcast: ${err.code}: ${err.message}\n${err.hint ? `hint: ${err.hint}\n` : ''}`)
  } else {
    process.stderr.write(`walcast: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`)
  }
}

export { WalcastError }
