import type { Db } from '../db/database.ts'
import type { Logger } from '../log.ts'
import type { AccessRule } from './access-rule.ts'
import type { DraftEvent, RowChange } from './row-change.ts'
import type { IdShape } from './topic-pattern.ts'

/** Event type → the shape of its `data`: what a client SDK types its events with. */
export type EventMap = Record<string, object>

/**
 * A catalog describes one system whose state lives in Postgres: which tables walcast
 * tails and which of their columns it may read, how a committed row change becomes
 * events, the topics each event goes to, and who may read each topic. One module a user
 * writes (or a built-in one) selected with WALCAST_CATALOG; docs/catalogs.md.
 */
export interface Catalog<E extends object = EventMap> {
  readonly name: string
  readonly tables: readonly CatalogTable<keyof E & string>[]
  /** Every event type with the topic patterns it is published to. */
  readonly events: { readonly [K in keyof E & string]: EventSpec }
  /** Topic pattern → who may read it. Every pattern an event uses needs one. */
  readonly access: Readonly<Record<string, AccessRule>>
  /** Shape of user ids (the token's `sub`), default int8. */
  readonly userId?: IdShape
  /** SQL creating the tables (idempotent), applied only when one of them is missing. */
  readonly schema?: URL
  readonly demo?: CatalogDemo
}

/** `T`: the catalog's event types. */
export interface CatalogTable<T extends string = string> {
  /** Qualified as `schema.table`. */
  readonly table: string
  /**
   * The only columns walcast reads from this table's rows: the mapper sees nothing else,
   * so no other column can reach a payload or leave the database.
   */
  readonly columns: readonly string[]
  /** The events `map` may produce. */
  readonly events: readonly T[]
  /** The mapper reads the old row (transitions, deletes): REPLICA IDENTITY FULL (walcast doctor checks it). */
  readonly fullIdentity?: boolean
  /**
   * A committed change to zero or more events; none for a no-op or a TOAST-unchanged
   * update (src/catalog/values.ts `changed` tells them apart).
   */
  map(change: RowChange): DraftEvent[]
}

export interface EventSpec {
  readonly topics: readonly string[]
}

/** Demo data for the embedded default (`npm start`) and `walcast demo`. */
export interface CatalogDemo {
  /** Idempotent: a second start reuses what is there. */
  seed(db: Db, log: Logger): Promise<void>
  /** A fresh script; each call writes its next step and says what it did. */
  script(): (db: Db) => Promise<string>
  /** Printed at start-up: whom to sign in as on the dashboard. */
  readonly signIn?: string
}

/** Types a catalog module: `export default defineCatalog({ … })`. */
export function defineCatalog<E extends object>(catalog: Catalog<E>): Catalog<E> {
  return catalog
}
