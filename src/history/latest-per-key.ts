import { sql, type RawBuilder } from 'kysely'
import type { Db } from '../db/database.ts'
import type { ConflatedTopics } from '../catalog/conflation.ts'
import { formatLsn, parseLsn, type EventId } from '../event-id.ts'
import type { Logger } from '../log.ts'
import { storedEventFromJson, type StoredEvent } from './event.ts'
import { payloadJsonb, payloadText, tsText } from './event-columns.ts'
import { WalcastError } from '../errors.ts'

interface LatestRow {
  commit_lsn: string
  seq: number
  topics: string
  type: string
  payload: string
  ts: string
}

/**
 * The key of a stored event of a conflated topic, in SQL, for the backfill: the JSON array
 * of the `data` fields `fields` names, in order, a missing one as null — conflationKeyJson
 * (src/catalog/conflation.ts), which the append uses, as jsonb (compared as Postgres
 * compares jsonb). The catalog allows only identifier-like field names.
 */
export function latestKey(payload: RawBuilder<unknown>, fields: readonly string[]): RawBuilder<unknown> {
  return sql`jsonb_build_array(${sql.join(fields.map((field) => sql`coalesce(${payload} -> ${sql.lit(field)}, 'null'::jsonb)`))})`
}

/**
 * Serializes what reads and writes latest_per_key as a whole: a backfill holds it
 * exclusively, each prune batch shared, so a prune never deletes an event a backfill is
 * about to name the latest of its key.
 */
export const LATEST_PER_KEY_LOCK = sql`hashtext('walcast.latest_per_key')`

/**
 * The state of a conflated topic after `after` (invariant I17): of the topic's events
 * with an id greater than `after`, the latest of each key, in id order, the first `limit`
 * of them. Paged with `after` = the last id of the previous page, every key still ends
 * on its latest event: a key that changed meanwhile comes again, later, with its newer
 * event. Read from walcast.latest_per_key (a key whose latest event is at or below
 * `after` has no event after it), so a page costs its keys, not the topic's history.
 */
export async function readLatestPerKey(db: Db, topic: string, after: EventId, limit: number): Promise<StoredEvent[]> {
  const rows = await sql<LatestRow>`
    SELECT e.commit_lsn::text AS commit_lsn, e.seq, array_to_json(e.topics)::text AS topics, e.type, ${payloadText('e')} AS payload,
      ${tsText('e')} AS ts
    FROM (
      SELECT commit_lsn, seq FROM walcast.latest_per_key
      WHERE topic = ${topic} AND (commit_lsn, seq) > (${formatLsn(after.lsn)}::pg_lsn, ${after.seq}::int)
      ORDER BY commit_lsn, seq
      LIMIT ${limit}
    ) k
    JOIN walcast.events e ON e.commit_lsn = k.commit_lsn AND e.seq = k.seq
    ORDER BY k.commit_lsn, k.seq`.execute(db)
  return rows.rows.map((row) => storedEventFromJson({ lsn: parseLsn(row.commit_lsn), seq: row.seq }, row.type, JSON.parse(row.topics) as string[], row.payload, row.ts))
}

/**
 * The conflated patterns syncLatestPerKey would build now (new, or their key spec
 * changed), read without the lock: the patterns whose state a node may not read until
 * its sync commits (I17).
 */
export async function latestPerKeyToBuild(db: Db, conflated: ConflatedTopics | undefined): Promise<string[]> {
  if (conflated === undefined) return []
  const held = new Map((await db.selectFrom('walcast.latest_per_key_specs').select(['pattern', 'key']).execute()).map((r) => [r.pattern, r.key]))
  return conflated.patterns.filter((p) => held.get(p.source) !== p.key).map((p) => p.source)
}

export interface LatestPerKeySync {
  /** Patterns whose state was built from the history (new, or their key spec changed). */
  readonly built: readonly string[]
  /** Patterns no longer conflated whose state was dropped. */
  readonly dropped: readonly string[]
}

/**
 * What a caller running the sync in the background (src/history/latest-per-key-backfill.ts)
 * needs to stop it. The sync holds one connection of the pool for its whole run, so the
 * backend `onBackend` names runs nothing but the sync's statements until `beforeRelease`
 * settles: a cancel sent to it before then can only hit the sync, and one sent after
 * would reach whatever statement the pool lends that connection to next.
 */
export interface LatestPerKeySyncControl {
  /** The backend pid of the sync's connection, told once the sync holds it. */
  readonly onBackend: (pid: number) => void
  /** Awaited before the connection goes back to the pool: from then on its pid is no longer the sync's. */
  readonly beforeRelease: () => Promise<void>
  /**
   * Asked before each statement and before the commit: true ends the sync with
   * SHUTTING_DOWN, rolled back. A cancel that reaches the backend between two statements
   * is dropped by Postgres; this is what stops the sync then.
   */
  readonly stopped: () => boolean
}

/**
 * Makes walcast.latest_per_key match the catalog's conflated topics before anything reads
 * or prunes by it (a node runs it in the background: src/history/latest-per-key-backfill.ts): a pattern newly conflated (the first start after the migration
 * included), or whose key spec changed, is built from the history; one no longer
 * conflated is dropped (its events are then pruned by retention alone). One transaction:
 * readers see the old state or the new one. The append keeps going meanwhile (another
 * node's ingest): both sides only ever move a key to a newer id, so whichever writes
 * second leaves the newest.
 */
export async function syncLatestPerKey(db: Db, conflated: ConflatedTopics | undefined, log?: Logger, control?: LatestPerKeySyncControl): Promise<LatestPerKeySync> {
  return db.connection().execute(async (conn) => {
    try {
      if (control !== undefined) control.onBackend((await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(conn)).rows[0]!.pid)
      return await syncOn(conn, conflated, log, control)
    } finally {
      await control?.beforeRelease()
    }
  })
}

/** Thrown inside the sync's transaction when its caller stopped it: rolls it back. */
function goOn(control: LatestPerKeySyncControl | undefined): void {
  if (control?.stopped() === true) throw new WalcastError('SHUTTING_DOWN', 'the latest-per-key sync was stopped; the next start does it again')
}

async function syncOn(db: Db, conflated: ConflatedTopics | undefined, log: Logger | undefined, control: LatestPerKeySyncControl | undefined): Promise<LatestPerKeySync> {
  const wanted = new Map((conflated?.patterns ?? []).map((p) => [p.source, p]))
  return db.transaction().execute(async (trx) => {
    goOn(control)
    await sql`SELECT pg_advisory_xact_lock(${LATEST_PER_KEY_LOCK})`.execute(trx)
    goOn(control)
    const held = new Map((await trx.selectFrom('walcast.latest_per_key_specs').select(['pattern', 'key']).execute()).map((r) => [r.pattern, r.key]))
    const build = [...wanted.values()].filter((p) => held.get(p.source) !== p.key)
    const dropped = [...held.keys()].filter((pattern) => !wanted.has(pattern))
    if (build.length === 0 && dropped.length === 0) return { built: [], dropped: [] }

    // Rows of a topic no conflated pattern owns, or of a pattern about to be rebuilt, go.
    const rebuilding = new Set(build.map((p) => p.source))
    const present = await sql<{ topic: string }>`SELECT DISTINCT topic FROM walcast.latest_per_key`.execute(trx)
    const stale = present.rows.map((r) => r.topic).filter((topic) => {
      const pattern = conflated?.patternOf(topic)
      return pattern === undefined || rebuilding.has(pattern)
    })
    if (stale.length > 0) await sql`DELETE FROM walcast.latest_per_key WHERE topic = ANY(${stale}::text[])`.execute(trx)

    if (build.length > 0) {
      // Every distinct topic of the history, one index descent each (a loose index scan:
      // the history may hold millions of events on a handful of topics), matched to its
      // pattern by the same rule the append uses.
      const topics = await sql<{ topic: string }>`
        WITH RECURSIVE topics AS (
          (SELECT topic FROM walcast.event_topics ORDER BY topic LIMIT 1)
          UNION ALL
          SELECT (SELECT t.topic FROM walcast.event_topics t WHERE t.topic > topics.topic ORDER BY t.topic LIMIT 1)
          FROM topics WHERE topics.topic IS NOT NULL
        )
        SELECT topic FROM topics WHERE topic IS NOT NULL`.execute(trx)
      for (const pattern of build) {
        const mine = topics.rows.map((r) => r.topic).filter((topic) => conflated!.patternOf(topic) === pattern.source)
        if (mine.length > 0) {
          goOn(control)
          await sql`
            INSERT INTO walcast.latest_per_key AS lk (topic, key, commit_lsn, seq)
            SELECT DISTINCT ON (topic, key) topic, key, commit_lsn, seq FROM (
              SELECT t.topic, ${latestKey(payloadJsonb('e'), pattern.fields)} AS key, t.commit_lsn, t.seq
              FROM walcast.event_topics t JOIN walcast.events e ON e.commit_lsn = t.commit_lsn AND e.seq = t.seq
              WHERE t.topic = ANY(${mine}::text[])
            ) keyed
            ORDER BY topic, key, commit_lsn DESC, seq DESC
            ON CONFLICT (topic, key) DO UPDATE SET commit_lsn = excluded.commit_lsn, seq = excluded.seq
              WHERE (lk.commit_lsn, lk.seq) < (excluded.commit_lsn, excluded.seq)`.execute(trx)
        }
        await sql`
          INSERT INTO walcast.latest_per_key_specs (pattern, key) VALUES (${pattern.source}, ${pattern.key})
          ON CONFLICT (pattern) DO UPDATE SET key = excluded.key, filled_at = now()`.execute(trx)
      }
    }
    if (dropped.length > 0) await trx.deleteFrom('walcast.latest_per_key_specs').where('pattern', 'in', dropped).execute()
    goOn(control)
    const result = { built: build.map((p) => p.source), dropped }
    log?.info(result, 'conflated topics\' latest-per-key state synced with the catalog')
    return result
  })
}
