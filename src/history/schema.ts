import type { ColumnType, Generated } from 'kysely'

/** kysely's view of the tables walcast reads and writes. */
export interface EventsTable {
  commit_lsn: string
  seq: number
  topics: string[]
  type: string
  payload: ColumnType<unknown, string, string>
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
  'walcast.migrations': MigrationsTable
}
