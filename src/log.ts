import pino, { type Logger } from 'pino'
import type { LogConfig } from './config.ts'

export type { Logger }

/**
 * Secrets and personal data never reach a log line: these paths are censored wherever
 * they appear, and URLs are logged through `redactUrl`.
 */
const REDACT = [
  'token', '*.token', 'password', '*.password', 'secret', '*.secret',
  'authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization',
  'email', '*.email', 'phone', '*.phone', 'databaseUrl', '*.databaseUrl',
]

export function createLogger(config: LogConfig, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level: config.level,
      base: { service: 'walcast' },
      redact: { paths: REDACT, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  )
}

/** Strips credentials and the query string (tokens travel there) from a URL for logging. */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw, 'http://x')
    if (url.password) url.password = 'redacted'
    const absolute = /^[a-z]+:\/\//i.test(raw)
    const base = absolute ? `${url.protocol}//${url.username ? `${url.username}${url.password ? ':redacted' : ''}@` : ''}${url.host}` : ''
    return `${base}${url.pathname}${url.search ? '?[redacted]' : ''}`
  } catch {
    return '[unparseable url]'
  }
}
