import { sql } from 'kysely'
import type { Db } from '../db/database.ts'
import { formatLsn, parseLsn, type EventId } from '../event-id.ts'
import { storedEventFromJson, type StoredEvent } from './event.ts'

interface LatestRow {
  commit_lsn: string
  seq: number
  topics: string
  type: string
  payload: string
  ts: string
}

/**
 * The state of a conflated topic after `after` (invariant I17): of the topic's events
 * with an id greater than `after`, the latest of each key (the `data` fields `fields`
 * name), in id order, the first `limit` of them. Paged with `after` = the last id of the
 * previous page, every key still ends on its latest event: a key that changed meanwhile
 * comes again, later, with its newer event. The cost is the topic's events after
 * `after` (a resume reads what it missed, a fresh subscription what the history holds).
 */
export async function readLatestPerKey(db: Db, topic: string, fields: readonly string[], after: EventId, limit: number): Promise<StoredEvent[]> {
  // Literals, not parameters: DISTINCT ON must match ORDER BY, which $1 and $3 never do.
  // The catalog's validation allows only identifier-like field names.
  const key = sql.join(fields.map((field) => sql`e.payload -> ${sql.lit(field)}`))
  const rows = await sql<LatestRow>`
    SELECT commit_lsn::text AS commit_lsn, seq, topics, type, payload, ts FROM (
      SELECT DISTINCT ON (${key}) e.commit_lsn, e.seq, array_to_json(e.topics)::text AS topics, e.type, e.payload::text AS payload,
        to_char(e.committed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ts
      FROM walcast.event_topics t
      JOIN walcast.events e ON e.commit_lsn = t.commit_lsn AND e.seq = t.seq
      WHERE t.topic = ${topic} AND (t.commit_lsn, t.seq) > (${formatLsn(after.lsn)}::pg_lsn, ${after.seq}::int)
      ORDER BY ${key}, t.commit_lsn DESC, t.seq DESC
    ) latest
    ORDER BY commit_lsn, seq
    LIMIT ${limit}`.execute(db)
  return rows.rows.map((row) => storedEventFromJson({ lsn: parseLsn(row.commit_lsn), seq: row.seq }, row.type, JSON.parse(row.topics) as string[], row.payload, row.ts))
}
