import type { Config } from '../config.ts'
import type { Database } from '../db/database.ts'
import type { Logger } from '../log.ts'
import type { ParsedArgs } from './args.ts'

/** What a database command gets: its connection, the config, and the parsed flags. */
export interface CommandContext {
  readonly config: Config
  readonly log: Logger
  readonly args: ParsedArgs
  readonly database: Database
}

/** Resolves to the exit code. Failures are thrown as WalcastErrors and reported by main. */
export type Command = (ctx: CommandContext) => Promise<number>
