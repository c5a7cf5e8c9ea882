import type { ColumnType, Generated } from 'kysely'

/** kysely's view of the tables walcast reads and writes. */
export interface EventsTable {
  commit_lsn: string
  seq: number
  topics: string[]
  type: string
  /** json: the event's `data` as walcast serialized it (sql/007); null in rows written before it. */
  payload: ColumnType<unknown, string | undefined, string>
  /** jsonb: the payload of rows written before sql/007; null in later ones. */
  payload_jsonb: ColumnType<unknown, string | undefined, string>
  /** The event id as clients see it; null in rows written before sql/007. */
  id: ColumnType<string | null, string | undefined, string>
  /** The commit time as frames spell it; null in rows written before sql/007. */
  ts: ColumnType<string | null, string | undefined, string>
  committed_at: ColumnType<Date, Date | string, Date | string>
}

export interface EventTopicsTable {
  topic: string
  commit_lsn: string
  seq: number
}

export interface HorizonTable {
  singleton: Generated<boolean>
  commit_lsn: string
  seq: number
  pruned_at: ColumnType<Date, Date | string | undefined, Date | string>
}

export interface GapsTable {
  id: Generated<string>
  after_lsn: string
  until_lsn: string
  reason: string
  recorded_at: ColumnType<Date, Date | string | undefined, never>
}

export interface EpochsTable {
  id: Generated<string>
  from_lsn: string
  /** numeric: read as text */
  id_offset: string
  recorded_at: ColumnType<Date, Date | string | undefined, never>
}

/** A conflated topic's key → its latest event (sql/005_walcast_latest_per_key.sql, I17). */
export interface LatestPerKeyTable {
  topic: string
  key: ColumnType<unknown, string, string>
  commit_lsn: string
  seq: number
}

/** Which conflated pattern latest_per_key was built for, under which key spec. */
export interface LatestPerKeySpecsTable {
  pattern: string
  key: string
  filled_at: ColumnType<Date, Date | string | undefined, Date | string>
}

export interface MigrationsTable {
  name: string
  applied_at: ColumnType<Date, Date | string | undefined, never>
}

export interface Schema {
  'walcast.events': EventsTable
  'walcast.event_topics': EventTopicsTable
  'walcast.horizon': HorizonTable
  'walcast.gaps': GapsTable
  'walcast.epochs': EpochsTable
  'walcast.latest_per_key': LatestPerKeyTable
  'walcast.latest_per_key_specs': LatestPerKeySpecsTable
  'walcast.migrations': MigrationsTable
}
