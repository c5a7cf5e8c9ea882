import { sql } from 'kysely'
import type { Db } from '../db/database.ts'
import type { HistoryConfig } from '../config.ts'
import type { Logger } from '../log.ts'
import type { Catalog } from '../catalog/catalog.ts'
import { keyFields } from '../catalog/conflation.ts'
import { parseTopicPattern } from '../catalog/topic-pattern.ts'

export interface PruneResult {
  readonly deleted: number
}

/**
 * Deletes events older than the retention in id order, one small batch per transaction
 * (short locks, bounded WAL), and moves the horizon to the greatest id deleted in the
 * same transaction, so a reader never sees a hole the horizon does not cover.
 */
export async function pruneBatch(db: Db, olderThan: Date, batch: number, keep: readonly KeptState[] = []): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const result = await sql<{ deleted: number; lsn: string | null; seq: number | null }>`
      WITH doomed AS (
        SELECT commit_lsn, seq FROM walcast.events e
        WHERE committed_at < ${olderThan.toISOString()}::timestamptz${keep.length === 0 ? sql`` : sql` AND NOT (${sql.join(keep.map(latestOfItsKey), sql` OR `)})`}
        ORDER BY commit_lsn, seq
        LIMIT ${batch}
        FOR UPDATE SKIP LOCKED
      ), gone AS (
        DELETE FROM walcast.events e USING doomed d
        WHERE e.commit_lsn = d.commit_lsn AND e.seq = d.seq
        RETURNING e.commit_lsn, e.seq, e.topics
      ), gone_topics AS (
        DELETE FROM walcast.event_topics t
        USING (SELECT unnest(topics) AS topic, commit_lsn, seq FROM gone) g
        WHERE t.topic = g.topic AND t.commit_lsn = g.commit_lsn AND t.seq = g.seq
      ), last AS (
        SELECT commit_lsn, seq FROM gone ORDER BY commit_lsn DESC, seq DESC LIMIT 1
      )
      SELECT (SELECT count(*) FROM gone)::int AS deleted, (SELECT commit_lsn::text FROM last) AS lsn, (SELECT seq FROM last) AS seq`.execute(trx)
    const row = result.rows[0]!
    if (row.deleted > 0 && row.lsn !== null) {
      await sql`
        INSERT INTO walcast.horizon (singleton, commit_lsn, seq, pruned_at)
        VALUES (true, ${row.lsn}::pg_lsn, ${row.seq}, now())
        ON CONFLICT (singleton) DO UPDATE
          SET commit_lsn = excluded.commit_lsn, seq = excluded.seq, pruned_at = excluded.pruned_at
          WHERE (walcast.horizon.commit_lsn, walcast.horizon.seq) < (excluded.commit_lsn, excluded.seq)`.execute(trx)
    }
    return row.deleted
  })
}

/**
 * A conflated topic's state (I17): of its events, the latest of each key is kept past the
 * retention, so a subscriber is served every key's value however long ago it last
 * changed. `topic` is a POSIX regular expression for the pattern's topics.
 */
export interface KeptState {
  readonly topic: string
  readonly fields: readonly string[]
}

/** The states a catalog's conflated topics keep (none without `conflate`). */
export function keptStates(catalog: Pick<Catalog, 'conflate'>): KeptState[] {
  return Object.entries(catalog.conflate?.topics ?? {}).flatMap(([source, spec]) => {
    const pattern = parseTopicPattern(source)
    if (typeof pattern === 'string') return []
    const topic = pattern.param === undefined ? `^${escapeRegex(source)}$` : `^${escapeRegex(pattern.prefix)}[^:]+${escapeRegex(pattern.suffix)}$`
    return [{ topic, fields: keyFields(spec) }]
  })
}

// Event `e` is, on some topic of the pattern, the latest of its key: no later event of
// that topic has the same key fields.
function latestOfItsKey(state: KeptState) {
  const sameKey = sql.join(state.fields.map((field) => sql`later.payload -> ${sql.lit(field)} IS NOT DISTINCT FROM e.payload -> ${sql.lit(field)}`), sql` AND `)
  return sql`EXISTS (
    SELECT 1 FROM unnest(e.topics) AS mine(topic)
    WHERE mine.topic ~ ${state.topic} AND NOT EXISTS (
      SELECT 1 FROM walcast.event_topics lt JOIN walcast.events later ON later.commit_lsn = lt.commit_lsn AND later.seq = lt.seq
      WHERE lt.topic = mine.topic AND (lt.commit_lsn, lt.seq) > (e.commit_lsn, e.seq) AND ${sameKey}))`
}

const escapeRegex = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')

/** Prunes until nothing older than the retention is left (or `maxBatches` ran). */
export async function pruneHistory(db: Db, config: HistoryConfig, now: Date = new Date(), maxBatches = 1000, keep: readonly KeptState[] = []): Promise<PruneResult> {
  const olderThan = new Date(now.getTime() - config.retentionMs)
  let deleted = 0
  for (let i = 0; i < maxBatches; i++) {
    const n = await pruneBatch(db, olderThan, config.pruneBatch, keep)
    deleted += n
    if (n < config.pruneBatch) break
  }
  return { deleted }
}

export interface Pruner {
  stop(): Promise<void>
}

/** Runs pruneHistory on a timer; one run at a time; errors are logged, never thrown. */
export function startPruner(db: Db, config: HistoryConfig, log: Logger, onPruned?: (result: PruneResult) => void, keep: readonly KeptState[] = []): Pruner {
  let running: Promise<void> | undefined
  const tick = (): void => {
    if (running !== undefined) return
    running = pruneHistory(db, config, new Date(), 1000, keep)
      .then((result) => {
        if (result.deleted > 0) log.info({ deleted: result.deleted }, 'pruned history')
        onPruned?.(result)
      })
      .catch((err: unknown) => log.warn({ err }, 'history prune failed; will try again'))
      .finally(() => { running = undefined })
  }
  const timer = setInterval(tick, config.pruneIntervalMs)
  timer.unref()
  tick()
  return {
    async stop() {
      clearInterval(timer)
      await running
    },
  }
}
