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
   * Asked before each statement and before each commit: true ends the sync with
   * SHUTTING_DOWN, its transaction in progress rolled back. A cancel that reaches the backend between two statements
   * is dropped by Postgres; this is what stops the sync then.
   */
  readonly stopped: () => boolean
}

export interface LatestPerKeySyncOptions {
  readonly log?: Logger
  /** For a caller that runs the sync in the background and may stop it. */
  readonly control?: LatestPerKeySyncControl
  /** How many history rows of a topic a new pattern's build reads per chunk (default 20,000). */
  readonly chunkRows?: number
}

type Pattern = ConflatedTopics['patterns'][number]

/**
 * Makes walcast.latest_per_key match the catalog's conflated topics before anything reads
 * or prunes by it (a node runs it in the background: src/history/latest-per-key-backfill.ts).
 * A pattern no longer conflated is dropped (its events are then pruned by retention
 * alone), and one whose key spec changed is rebuilt, in one transaction: readers see the
 * old state or the new one. A pattern newly conflated (the first start after the migration
 * included) is built from the history in chunks, each its own short transaction, and its
 * spec row, which is what says its state may be read (I17), is written with the last
 * chunk: a long history holds no snapshot and no row for hours, and a stop keeps the
 * chunks done (see buildInChunks). The whole sync holds the latest_per_key lock on one
 * connection: two nodes never build at once, and no prune deletes an event the build
 * has yet to read. The append keeps going meanwhile (the ingest): both sides only ever
 * move a key to a newer id, so whichever writes second leaves the newest.
 */
export async function syncLatestPerKey(db: Db, conflated: ConflatedTopics | undefined, options: LatestPerKeySyncOptions = {}): Promise<LatestPerKeySync> {
  const { control } = options
  return db.connection().execute(async (conn) => {
    try {
      if (control !== undefined) control.onBackend((await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(conn)).rows[0]!.pid)
      goOn(control)
      // A session lock: held across the build's transactions. A cancelled wait takes nothing.
      await sql`SELECT pg_advisory_lock(${LATEST_PER_KEY_LOCK})`.execute(conn)
      return await syncOn(conn, conflated, options)
    } finally {
      // First no cancel can reach the connection any more, then the lock goes: a cancel
      // landing on the unlock would send the connection back to the pool still holding it.
      await control?.beforeRelease()
      await sql`SELECT pg_advisory_unlock_all()`.execute(conn).catch(() => {})
    }
  })
}

/** Thrown inside the sync when its caller stopped it: the transaction in progress rolls back. */
function goOn(control: LatestPerKeySyncControl | undefined): void {
  if (control?.stopped() === true) throw new WalcastError('SHUTTING_DOWN', 'the latest-per-key sync was stopped; the next start does the rest')
}

async function syncOn(conn: Db, conflated: ConflatedTopics | undefined, options: LatestPerKeySyncOptions): Promise<LatestPerKeySync> {
  const { control, log } = options
  goOn(control)
  const wanted = new Map((conflated?.patterns ?? []).map((p) => [p.source, p]))
  const held = new Map((await conn.selectFrom('walcast.latest_per_key_specs').select(['pattern', 'key']).execute()).map((r) => [r.pattern, r.key]))
  const changed = [...wanted.values()].filter((p) => held.has(p.source) && held.get(p.source) !== p.key)
  const fresh = [...wanted.values()].filter((p) => !held.has(p.source))
  const dropped = [...held.keys()].filter((pattern) => !wanted.has(pattern))
  if (changed.length === 0 && fresh.length === 0 && dropped.length === 0) return { built: [], dropped: [] }

  // Every distinct topic of the history, one index descent each (a loose index scan:
  // the history may hold millions of events on a handful of topics), matched to its
  // pattern by the same rule the append uses. A topic whose first event comes later has
  // every key kept by its append.
  const topics = (await sql<{ topic: string }>`
    WITH RECURSIVE topics AS (
      (SELECT topic FROM walcast.event_topics ORDER BY topic LIMIT 1)
      UNION ALL
      SELECT (SELECT t.topic FROM walcast.event_topics t WHERE t.topic > topics.topic ORDER BY t.topic LIMIT 1)
      FROM topics WHERE topics.topic IS NOT NULL
    )
    SELECT topic FROM topics WHERE topic IS NOT NULL`.execute(conn)).rows.map((r) => r.topic)
  const topicsOf = (pattern: Pattern): string[] => topics.filter((topic) => conflated!.patternOf(topic) === pattern.source)

  await conn.transaction().execute(async (trx) => {
    // Rows of a topic no conflated pattern owns, or of a pattern about to be rebuilt, go.
    const rebuilding = new Set(changed.map((p) => p.source))
    const present = await sql<{ topic: string }>`SELECT DISTINCT topic FROM walcast.latest_per_key`.execute(trx)
    const stale = present.rows.map((r) => r.topic).filter((topic) => {
      const pattern = conflated?.patternOf(topic)
      return pattern === undefined || rebuilding.has(pattern)
    })
    if (stale.length > 0) await sql`DELETE FROM walcast.latest_per_key WHERE topic = ANY(${stale}::text[])`.execute(trx)
    for (const pattern of changed) {
      const mine = topicsOf(pattern)
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
      await markBuilt(trx, pattern)
    }
    if (dropped.length > 0) await trx.deleteFrom('walcast.latest_per_key_specs').where('pattern', 'in', dropped).execute()
    goOn(control)
  })
  for (const pattern of fresh) await buildInChunks(conn, conflated!, pattern, topicsOf(pattern), options)

  const result = { built: [...changed, ...fresh].map((p) => p.source), dropped }
  log?.info(result, 'conflated topics\' latest-per-key state synced with the catalog')
  return result
}

/** The spec row: from its commit on, the pattern's state may be read (I17). */
async function markBuilt(trx: Db, pattern: Pattern): Promise<void> {
  await sql`
    INSERT INTO walcast.latest_per_key_specs (pattern, key) VALUES (${pattern.source}, ${pattern.key})
    ON CONFLICT (pattern) DO UPDATE SET key = excluded.key, filled_at = now()`.execute(trx)
}

/** Before the first event: ids are (commit LSN, seq ≥ 0). */
const START = { lsn: '0/0', seq: -1 }

/**
 * Upserts the latest event of each key among the next `rows` events of `topic` after
 * `after` (in id order); a key only ever moves to a newer id. Returns how many events it
 * read and the last one's id.
 */
async function upsertChunk(db: Db, topic: string, fields: readonly string[], after: { lsn: string; seq: number }, rows: number): Promise<{ read: number; last: { lsn: string; seq: number } }> {
  const result = await sql<{ read: number; lsn: string | null; seq: number | null }>`
    WITH chunk AS MATERIALIZED (
      SELECT commit_lsn, seq FROM walcast.event_topics
      WHERE topic = ${topic} AND (commit_lsn, seq) > (${after.lsn}::pg_lsn, ${after.seq}::int)
      ORDER BY commit_lsn, seq
      LIMIT ${rows}
    ), upserted AS (
      INSERT INTO walcast.latest_per_key AS lk (topic, key, commit_lsn, seq)
      SELECT DISTINCT ON (key) ${topic}::text, key, commit_lsn, seq FROM (
        SELECT ${latestKey(payloadJsonb('e'), fields)} AS key, c.commit_lsn, c.seq
        FROM chunk c JOIN walcast.events e ON e.commit_lsn = c.commit_lsn AND e.seq = c.seq
      ) keyed
      ORDER BY key, commit_lsn DESC, seq DESC
      ON CONFLICT (topic, key) DO UPDATE SET commit_lsn = excluded.commit_lsn, seq = excluded.seq
        WHERE (lk.commit_lsn, lk.seq) < (excluded.commit_lsn, excluded.seq)
    ), last AS (
      SELECT commit_lsn, seq FROM chunk ORDER BY commit_lsn DESC, seq DESC LIMIT 1
    )
    SELECT (SELECT count(*) FROM chunk)::int AS read, (SELECT commit_lsn::text FROM last) AS lsn, (SELECT seq FROM last) AS seq`.execute(db)
  const row = result.rows[0]!
  return { read: row.read, last: row.lsn === null ? after : { lsn: row.lsn, seq: row.seq! } }
}

/**
 * A new pattern's state, from the history, a chunk of `chunkRows` events of a topic at a
 * time, each chunk its own transaction (a snapshot and row locks held for one chunk, not
 * for the whole history). Until its spec row is written the pattern is not read (I17: its
 * state reads wait, latestPerKeyToBuild), so the chunks may commit one by one. The last
 * pass deletes the rows of another key spec, reads each topic up to the head and writes
 * the spec row, in one transaction. An event appended meanwhile ends up in the state
 * either way: the append keeps the key of every conflated topic of its catalog, built or
 * not, and the chunks read to the head, so an event appended without (a node whose
 * catalog does not conflate the pattern) is read too as long as it comes before the last
 * pass's snapshot. A stop keeps what the chunks wrote, never the spec row; the next start
 * reads the history from the start again over those rows, which is safe (keys only move
 * forward) but not free: it does not continue where the stop was.
 */
async function buildInChunks(conn: Db, conflated: ConflatedTopics, pattern: Pattern, topics: readonly string[], options: LatestPerKeySyncOptions): Promise<void> {
  const { control } = options
  const chunkRows = options.chunkRows ?? 20_000
  const reached = new Map<string, { lsn: string; seq: number }>()
  for (const topic of topics) {
    let after = START
    for (;;) {
      goOn(control)
      const chunk = await upsertChunk(conn, topic, pattern.fields, after, chunkRows)
      after = chunk.last
      if (chunk.read < chunkRows) break
    }
    reached.set(topic, after)
  }
  await conn.transaction().execute(async (trx) => {
    // Rows of another key spec (a build stopped under it, or its leftovers): a row whose
    // event's key under this spec is not the row's key is not this spec's. Before the last
    // pass, which puts back any key an append moved meanwhile.
    goOn(control)
    const present = await sql<{ topic: string }>`SELECT DISTINCT topic FROM walcast.latest_per_key`.execute(trx)
    const mine = present.rows.map((r) => r.topic).filter((topic) => conflated.patternOf(topic) === pattern.source)
    if (mine.length > 0) {
      await sql`
        DELETE FROM walcast.latest_per_key lk
        WHERE lk.topic = ANY(${mine}::text[]) AND NOT EXISTS (
          SELECT 1 FROM walcast.events e
          WHERE e.commit_lsn = lk.commit_lsn AND e.seq = lk.seq AND ${latestKey(payloadJsonb('e'), pattern.fields)} = lk.key
        )`.execute(trx)
    }
    for (const topic of topics) {
      let after = reached.get(topic)!
      for (;;) {
        goOn(control)
        const chunk = await upsertChunk(trx, topic, pattern.fields, after, chunkRows)
        after = chunk.last
        if (chunk.read < chunkRows) break
      }
    }
    await markBuilt(trx, pattern)
    goOn(control)
  })
}
