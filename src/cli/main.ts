import pino from 'pino'
import { loadConfig, type Config } from '../config.ts'
import { createLogger, type Logger } from '../log.ts'
import { isWalcastError, sqlState, WalcastError } from '../errors.ts'
import { embeddedUrl } from '../db/embedded.ts'
import { parseArgs, usageError } from './args.ts'
import { BUILTIN_CATALOGS, DEFAULT_CATALOG } from '../catalog/builtin.ts'
import type { Command } from './command.ts'
import { withDatabase } from './connect.ts'
import { runServe } from './serve.ts'
import { runMigrate } from './migrate.ts'
import { runDoctorCommand } from './doctor.ts'
import { runSlotStatus } from './slot-status.ts'
import { runSlotCreate } from './slot-create.ts'
import { runSlotDrop } from './slot-drop.ts'
import { runPublicationShow } from './publication-show.ts'
import { runPublicationSync } from './publication-sync.ts'
import { runHistoryPrune } from './history-prune.ts'
import { runDemo } from './demo.ts'

const HELP = `walcast: Postgres logical replication to a lossless real-time push feed

Usage: walcast [command] [--json]

Commands:
  serve                 run the service (default)
  migrate               apply the numbered SQL files of sql/, then the catalog's
                        schema if one of its tables is missing
  doctor                check the server, role, publication, replica identities, slot
                        and history; print the exact fix for each problem
                        (exit 0: all passed, 1: a check failed, 3: warnings only)
  slot status           every replication slot: active pid, confirmed_flush_lsn,
                        restart_lsn, retained WAL, lag, wal_status (* marks walcast's)
  slot create           create walcast's slot (records a gap when the history holds
                        events; --assume-no-writes when every writer was stopped)
  slot drop             drop walcast's slot; refused while it is active, and needs
                        --force when it is inactive (its unread changes are lost)
  publication show      the publication's tables against the tracked tables
  publication sync      add missing tracked tables, drop untracked ones
  history prune         delete events older than WALCAST_RETENTION now
  demo                  write the catalog's demo activity so events flow
  help                  this text

Options:
  --json                machine-readable output on stdout
  --force               confirm a destructive command (slot drop)

The database is DATABASE_URL, or the embedded Postgres under WALCAST_DATA_DIR.
What walcast serves is WALCAST_CATALOG: ${Object.keys(BUILTIN_CATALOGS).map((name) => name === DEFAULT_CATALOG ? `${name} (default)` : name).join(', ')},
or the path of a catalog module (docs/catalogs.md).
Configuration comes from environment variables: see docs/operations.md.
Exit codes: 0 success, 1 failure (one line and a hint on stderr), 2 usage error.`

/**
 * The help's footer: where the embedded Postgres listens, so a DBA can point psql or
 * DATABASE_URL at it. Its password is the published embedded default (a local dev
 * database on 127.0.0.1), so the URL is printed whole. The port is the configured one,
 * or the default when the environment does not load: help must work with a bad config.
 */
function embeddedFooter(): string {
  let port: number
  try {
    port = loadConfig().embedded.port
  } catch {
    port = loadConfig({}).embedded.port
  }
  return `Without DATABASE_URL, the embedded Postgres listens on 127.0.0.1 (WALCAST_EMBEDDED_PORT)
while walcast serve runs: psql ${embeddedUrl(port)}`
}

const COMMANDS: Record<string, Command> = {
  'doctor': runDoctorCommand,
  'slot status': runSlotStatus,
  'slot create': runSlotCreate,
  'slot drop': runSlotDrop,
  'publication show': runPublicationShow,
  'publication sync': runPublicationSync,
  'history prune': runHistoryPrune,
}

export async function main(argv: string[]): Promise<number> {
  try {
    const args = parseArgs(argv)
    const command = args.words.join(' ') || 'serve'
    if (command === 'help' || args.help) {
      process.stdout.write(`${HELP}\n\n${embeddedFooter()}\n`)
      return 0
    }
    const run = COMMANDS[command]
    if (run === undefined && command !== 'serve' && command !== 'migrate' && command !== 'demo') {
      throw unknownCommand(args.words)
    }
    const config = loadConfig()
    // The other commands' stdout belongs to their output (and --json): their logs go to stderr.
    const log = command === 'serve' || command === 'demo'
      ? createLogger(config.log)
      : createLogger(config.log, pino.destination({ dest: 2, sync: true }))
    warnUnknownVariables(config, log)
    if (command === 'serve') return await runServe(config, log)
    if (command === 'demo') return await runDemo(config, log)
    if (command === 'migrate') return await runMigrate(config, log, args.json)
    return await withDatabase(config, log, (database) => run!({ config, log, args, database }))
  } catch (err) {
    reportFailure(err)
    return isWalcastError(err) && err.code === 'USAGE' ? 2 : 1
  }
}

/** `walcast slot` alone (or with a mistyped subcommand) lists the subcommands it has. */
function unknownCommand(words: readonly string[]): WalcastError {
  const [group = '', sub] = words
  const subcommands = Object.keys(COMMANDS).filter((c) => c.startsWith(`${group} `)).map((c) => c.slice(group.length + 1))
  if (subcommands.length === 0) return usageError(`unknown command ${JSON.stringify(words.join(' '))}`)
  const list = subcommands.join(', ')
  return sub === undefined
    ? usageError(`walcast ${group} needs a subcommand: ${list}`)
    : usageError(`unknown command ${JSON.stringify(words.join(' '))}; walcast ${group} has: ${list}`)
}

/**
 * A mistyped setting would otherwise be ignored without a word: one line per unknown
 * name, with the closest known one. Never the value: it may be a secret.
 */
function warnUnknownVariables(config: Config, log: Logger): void {
  for (const { name, suggestion } of config.unknownVariables) {
    log.warn({ variable: name, suggestion }, `unknown setting ${name} is ignored; did you mean ${suggestion}?`)
  }
}

/** SQLSTATEs an operator meets with these commands, and what to do about them. */
const PG_HINTS: Record<string, string> = {
  '42501': 'the role lacks a privilege for this: run it as the object\'s owner, or see sql/role.sql',
  '42P01': 'a table walcast needs is missing: run walcast migrate (as the schema owner)',
  '55006': 'the object is in use by another process: see walcast slot status',
  '53400': 'a server limit was reached: see walcast doctor',
}

/** One clear line plus a hint; a stack only for what is not a known failure. */
export function reportFailure(err: unknown): void {
  if (isWalcastError(err)) {
    process.stderr.write(`walcast: ${err.code}: ${err.message}\n${err.hint ? `hint: ${err.hint}\n` : ''}`)
    return
  }
  const state = sqlState(err)
  if (state !== undefined) {
    process.stderr.write(`walcast: postgres error ${state}: ${(err as Error).message}\nhint: ${PG_HINTS[state] ?? 'see the Postgres server log for details; walcast doctor checks the usual causes'}\n`)
    return
  }
  process.stderr.write(`walcast: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`)
}

export { WalcastError }
