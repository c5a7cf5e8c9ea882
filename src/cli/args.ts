import { WalcastError } from '../errors.ts'

export interface ParsedArgs {
  /** Positional words: `slot drop` → ['slot', 'drop']. */
  readonly words: readonly string[]
  readonly json: boolean
  readonly force: boolean
  readonly help: boolean
  readonly assumeNoWrites: boolean
}

const FLAGS = new Set(['--json', '--force', '--help', '-h', '--assume-no-writes'])

export function usageError(message: string): WalcastError {
  return new WalcastError('USAGE', message, { hint: 'run walcast --help' })
}

export function parseArgs(argv: readonly string[]): ParsedArgs {
  for (const arg of argv) {
    if (arg.startsWith('-') && !FLAGS.has(arg)) throw usageError(`unknown option ${arg}`)
  }
  return {
    words: argv.filter((a) => !a.startsWith('-')),
    json: argv.includes('--json'),
    force: argv.includes('--force'),
    help: argv.includes('--help') || argv.includes('-h'),
    assumeNoWrites: argv.includes('--assume-no-writes'),
  }
}
