import type { Row } from './row-change.ts'

/**
 * Payload values in a stable JSON form: timestamps as ISO-8601, ids and money as the
 * strings Postgres sends (int8 and numeric do not fit a JS number losslessly). The
 * replication stream already hands timestamptz values over as ISO-8601 text
 * (src/replication/timestamp.ts); a Date still comes from other sources.
 */
export function jsonValue(value: unknown): unknown {
  if (typeof value === 'string') return value
  if (value === undefined || value === null) return null
  if (value instanceof Date) return value.toISOString()
  if (typeof value === 'bigint') return value.toString()
  return value
}

/** Column as a string id, or null. */
export function idValue(row: Row, column: string): string | null {
  const value = row[column]
  return value === undefined || value === null ? null : String(value)
}

/**
 * Did `column` change? An unchanged TOASTed value (undefined in the new row) is never a
 * change; without an old row we cannot tell, so we say no.
 */
export function changed(old: Row | null, next: Row, column: string): boolean {
  if (old === null) return false
  const after = next[column]
  if (after === undefined) return false
  return !sameValue(old[column], after)
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime()
  return a === b
}

export function isNull(value: unknown): boolean {
  return value === null || value === undefined
}
