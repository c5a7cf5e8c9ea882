import { sql } from 'kysely'
import type { Db } from '../db/database.ts'
import type { HistoryConfig } from '../config.ts'
import type { Logger } from '../log.ts'
import { LATEST_PER_KEY_LOCK } from './latest-per-key.ts'

export interface PruneResult {
  readonly deleted: number
}

/**
 * Deletes events older than the retention in id order, one small batch per transaction
 * (short locks, bounded WAL), and moves the horizon to the greatest id deleted in the
 * same transaction, so a reader never sees a hole the horizon does not cover. An event
 * that is the latest of a key of a conflated topic (walcast.latest_per_key, I17) stays
 * past the retention, so a subscriber is served every key's value however long ago it
 * last changed; it goes once a newer event of its key replaces it.
 */
export async function pruneBatch(db: Db, olderThan: Date, batch: number): Promise<number> {
  return db.transaction().execute(async (trx) => {
    // Shared with other prune batches, never with a latest_per_key backfill (which could
    // otherwise name the latest of a key an event this batch deletes).
    await sql`SELECT pg_advisory_xact_lock_shared(${LATEST_PER_KEY_LOCK})`.execute(trx)
    const result = await sql<{ deleted: number; lsn: string | null; seq: number | null }>`
      WITH doomed AS (
        SELECT commit_lsn, seq FROM walcast.events e
        WHERE committed_at < ${olderThan.toISOString()}::timestamptz
          AND NOT EXISTS (SELECT 1 FROM walcast.latest_per_key k WHERE k.commit_lsn = e.commit_lsn AND k.seq = e.seq)
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

/** Prunes until nothing older than the retention is left (or `maxBatches` ran). */
export async function pruneHistory(db: Db, config: HistoryConfig, now: Date = new Date(), maxBatches = 1000): Promise<PruneResult> {
  const olderThan = new Date(now.getTime() - config.retentionMs)
  let deleted = 0
  for (let i = 0; i < maxBatches; i++) {
    const n = await pruneBatch(db, olderThan, config.pruneBatch)
    deleted += n
    if (n < config.pruneBatch) break
  }
  return { deleted }
}

export interface Pruner {
  stop(): Promise<void>
}

/** Runs pruneHistory on a timer; one run at a time; errors are logged, never thrown. */
export function startPruner(db: Db, config: HistoryConfig, log: Logger, onPruned?: (result: PruneResult) => void): Pruner {
  let running: Promise<void> | undefined
  const tick = (): void => {
    if (running !== undefined) return
    running = pruneHistory(db, config, new Date(), 1000)
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
