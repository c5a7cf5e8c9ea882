/**
 * The contract between the replication stage and a catalog: a committed row change in,
 * zero or more draft events out. A catalog never sees LSNs or ids; the ingest assigns them.
 */
/**
 * Column values as pg decodes them, except timestamptz: ISO-8601 UTC text with
 * milliseconds (src/replication/timestamp.ts), as jsonValue would make of a Date.
 */
export type Row = Record<string, unknown>

export interface RowChange {
  readonly kind: 'insert' | 'update' | 'delete'
  /** Qualified as `schema.table`. */
  readonly table: string
  /** The full old row (REPLICA IDENTITY FULL) or null. */
  readonly old: Row | null
  /**
   * The new row, or null for a delete. A column whose value pgoutput sent as
   * "unchanged TOAST" holds the old value when the old row is known, else `undefined`:
   * never null, so it is never mistaken for a change.
   */
  readonly new: Row | null
}

export interface DraftEvent {
  readonly type: string
  readonly topics: readonly string[]
  readonly data: Readonly<Record<string, unknown>>
}
