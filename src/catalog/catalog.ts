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
  /** What the dev dashboard lists for a signed-in user; without it the page shows only its feed. */
  readonly dashboard?: CatalogDashboard
  /**
   * Topic pattern → the ephemeral messages (typing indicators) clients may send to its
   * topics, and whether it tracks presence. Live only, never stored (docs/catalogs.md#ephemeral-messages-and-presence).
   */
  readonly ephemeral?: Readonly<Record<string, EphemeralSpec>>
}

/** What clients may send to the topics of one pattern, live only (I16). */
export interface EphemeralSpec {
  /** Message types, e.g. ['chat:typing', 'chat:stopped-typing']; none may be a durable event's. */
  readonly events: readonly string[]
  /** Largest `data`, as JSON bytes (default 1024). */
  readonly maxBytes?: number
  /** Messages per second per connection and topic (default 5, with a burst of twice that). */
  readonly perSecond?: number
  /** Track who is on each topic (join/leave) and answer presence queries. */
  readonly presence?: boolean
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

/**
 * The dev dashboard's view of a catalog (src/dashboard/overview.ts): the latest rows a
 * user may see, each with the topic it lives on, and the user's own topics. The page
 * subscribes to the user's topics and the follow set (or, without one, to each row's
 * topic) and renders each event generically.
 */
export interface CatalogDashboard {
  /** Heading of the list, e.g. 'Your escrows'. */
  readonly title: string
  /** Column key → heading, in display order; a row's `cells` use these keys. */
  readonly columns: Readonly<Record<string, string>>
  /**
   * The user's latest rows, at most `limit` of them, newest first. `userId` is the
   * token's subject, already checked against the catalog's user id shape.
   */
  list(db: Db, userId: string, limit: number): Promise<DashboardRow[]>
  /** Topics of the user's own, `{id}` standing for the user id (e.g. `user:{id}`). */
  readonly userTopics?: readonly string[]
  /**
   * A follow set (`{id}` the user id, e.g. `user:{id}:escrows`) carrying the events of
   * every row the user may see: the page subscribes to it once instead of to each row's
   * topic, so it stays live however many rows the user has.
   */
  readonly follow?: string
  /**
   * The roles the user holds (e.g. read from a roles table): the dev sign-in puts them in
   * the token's `roles` claim, as the application's own token issuer would.
   */
  roles?(db: Db, userId: string): Promise<readonly string[]>
  /** Role → the broadcast topic its holders read (e.g. `seller` → `sellers`): the page subscribes to those of the user's roles. */
  readonly roleTopics?: Readonly<Record<string, string>>
  /** Event types that count as unread notifications (the badge). */
  readonly notifications?: readonly string[]
  /** Event type → a one-line summary, `{field}` standing for a payload field. */
  readonly summaries?: Readonly<Record<string, string>>
}

export interface DashboardRow {
  readonly id: string
  /** The topic this row's events arrive on. */
  readonly topic: string
  readonly cells: Readonly<Record<string, string>>
}

/** Types a catalog module: `export default defineCatalog({ … })`. */
export function defineCatalog<E extends object>(catalog: Catalog<E>): Catalog<E> {
  return catalog
}
