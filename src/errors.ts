/**
 * Every failure walcast reports carries a stable `code` and, where the operator can act,
 * a `hint` that says what to do. Codes are documented in docs/errors.md.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'DB_UNREACHABLE'
  | 'WAL_LEVEL_NOT_LOGICAL'
  | 'ROLE_LACKS_REPLICATION'
  | 'PUBLICATION_INCOMPLETE'
  | 'SLOT_ACTIVE'
  | 'SLOT_INVALID'
  | 'SLOT_MISSING'
  | 'SLOT_EXISTS'
  | 'FORCE_REQUIRED'
  | 'USAGE'
  | 'MIGRATION_FAILED'
  /** The database's walcast schema was migrated by a newer walcast (src/db/migrate.ts). */
  | 'SCHEMA_NEWER'
  | 'REPLICATION_FAILED'
  | 'HISTORY_WRITE_FAILED'
  | 'EVENT_ID_INVALID'
  | 'SHUTTING_DOWN'
  | 'TOKEN_REJECTED'
  | 'AUTH_UNAVAILABLE'
  | 'RUNTIME_UNSUPPORTED'
  | 'BUS_UNREACHABLE'
  | 'CATALOG_INVALID'
  | 'EMBEDDED_START_FAILED'
  /** The HTTP/WebSocket server could not listen on WALCAST_HOST:WALCAST_PORT (src/http/server.ts). */
  | 'HTTP_LISTEN_FAILED'
  /** A subscription's history read waited too long for its turn (src/subscription/read-gate.ts). */
  | 'READS_OVERLOADED'
  /** An access check (membership lookup) waited too long for its turn (src/auth/access-checks.ts). */
  | 'ACCESS_CHECKS_OVERLOADED'
  /** A conflated topic's state read waited too long for its pattern's backfill (src/history/latest-per-key-backfill.ts). */
  | 'STATE_BUILDING'
  /** bin/walcast.js found no dist/ (plain JavaScript there: it cannot import this file). */
  | 'NOT_BUILT'

export interface WalcastErrorOptions {
  cause?: unknown
  hint?: string
}

export class WalcastError extends Error {
  readonly code: ErrorCode
  readonly hint: string | undefined

  constructor(code: ErrorCode, message: string, options: WalcastErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'WalcastError'
    this.code = code
    this.hint = options.hint
  }
}

export class ConfigError extends WalcastError {
  readonly variable: string
  constructor(variable: string, message: string) {
    super('CONFIG_INVALID', `${variable}: ${message}`, {
      hint: `fix or unset ${variable}; see docs/operations.md#configuration`,
    })
    this.name = 'ConfigError'
    this.variable = variable
  }
}

export class StartupError extends WalcastError {
  constructor(code: ErrorCode, message: string, options: WalcastErrorOptions = {}) {
    super(code, message, options)
    this.name = 'StartupError'
  }
}

/** The selected catalog cannot be loaded, or describes something wrong (src/catalog/validate.ts). */
export class CatalogError extends WalcastError {
  constructor(catalog: string, mistake: string, hint: string, options: { cause?: unknown } = {}) {
    super('CATALOG_INVALID', `catalog ${catalog}: ${mistake}`, { hint, cause: options.cause })
    this.name = 'CatalogError'
  }
}

export function isWalcastError(err: unknown): err is WalcastError {
  return err instanceof WalcastError
}

/** Normalises anything thrown into an Error without losing the original. */
export function coerceError(err: unknown): Error {
  if (err instanceof Error) return err
  return new Error(typeof err === 'string' ? err : JSON.stringify(err))
}

/** SQLSTATE of a pg error, if it has one. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined
}

/**
 * SQLSTATEs (and socket errors) after which retrying the same work later can succeed:
 * the server went away, restarted, or is overloaded. Anything else is a bug or a
 * configuration problem and retrying would only hide it.
 */
const RETRYABLE_SQLSTATES = new Set([
  '08000', '08003', '08006', '08001', '08004', // connection exceptions
  '57P01', '57P02', '57P03', // admin shutdown, crash shutdown, cannot connect now
  '53300', // too many connections
  '40001', '40P01', // serialization failure, deadlock
  '55006', // object in use (replication slot active)
])
const RETRYABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN'])

export function isRetryable(err: unknown): boolean {
  const state = sqlState(err)
  if (state !== undefined) return RETRYABLE_SQLSTATES.has(state)
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code === 'string' && RETRYABLE_NODE_CODES.has(code)) return true
  const message = err instanceof Error ? err.message : ''
  return /Connection terminated|connection.*(closed|ended)|terminating connection/i.test(message)
}
