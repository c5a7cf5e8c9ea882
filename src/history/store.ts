import { sql } from 'kysely'
import type { Db } from '../db/database.ts'
import { formatLsn, parseLsn, type EventId } from '../event-id.ts'
import { lsnText, storedEventFromJson, type StoredEvent } from './event.ts'
import { conflationKeyJson, type ConflatedTopics } from '../catalog/conflation.ts'
import { pageEvent, type PageRow as FrameRow } from './page-frame.ts'
import { arrayElement, nestedArrayElement } from './array-literal.ts'
import { PREPARED } from '../db/database.ts'
import { payloadText, tsText } from './event-columns.ts'

/** The durable, idempotent event history. */
export interface HistoryStore {
  /**
   * Inserts events in one transaction; ids already stored are left as they are. An event
   * of a conflated topic becomes, in the same transaction, the latest of its key unless a
   * newer one already is (walcast.latest_per_key, I17).
   */
  append(events: readonly StoredEvent[]): Promise<void>
  /** Events of `topic` with an id greater than `after`, in id order. */
  readSince(topic: string, after: EventId, limit: number): Promise<StoredEvent[]>
  /**
   * `readSince` of each topic, in one statement: page i belongs to topics[i]. A follow set
   * of a hundred escrows costs one round trip per page, not a hundred.
   */
  readSinceEach(topics: readonly string[], after: EventId, limit: number): Promise<StoredEvent[][]>
  /**
   * Events of every topic with an id greater than `after`, in id order: what a node
   * following the bus missed (src/bus/follower.ts).
   */
  readAfter(after: EventId, limit: number): Promise<StoredEvent[]>
  /** The greatest stored id, or undefined on an empty history. */
  lastId(): Promise<EventId | undefined>
  /** Every id at or below the horizon may have been pruned (undefined: nothing pruned). */
  horizon(): Promise<EventId | undefined>
  /** The end of the newest recorded gap (a resume from before it cannot be complete). */
  lastGapEnd(): Promise<bigint | undefined>
  /** The end of the newest gap that ends at or before `lsn` (gaps before an event of that LSN). */
  lastGapEndAtOrBefore(lsn: bigint): Promise<bigint | undefined>
  /**
   * Records that the changes between the positions are missing. A gap already recorded
   * with the same bounds and reason is left as it is: a transaction re-read after a
   * reconnect, or one that truncates twice, records its gap once.
   */
  recordGap(afterLsn: bigint, untilLsn: bigint, reason: string): Promise<void>
  /** What is added to a commit LSN to make an id's LSN part (0 until the server was found behind). */
  idOffset(): Promise<bigint>
  /**
   * The server's WAL is behind the history: from `fromLsn` on, ids are shifted by
   * `offset`, and the gap between the last stored id and the first shifted one is
   * recorded (reason `server_behind`). One transaction: both or neither.
   */
  startEpoch(fromLsn: bigint, offset: bigint, gap: { afterLsn: bigint; untilLsn: bigint }): Promise<void>
}

interface PageRow {
  commit_lsn: string
  seq: number
  /** JSON array text */
  topics: string
  type: string
  /** JSON text */
  payload: string
  ts: string
}

/**
 * A page of each topic, in one statement and one round trip: walcast.history_pages
 * (sql/006, redefined by sql/007 to read the stored texts), whose plan is pinned so that
 * a page costs what it returns, whatever the statistics (a burst just written, a topic
 * that is most of the history); see the function's comment and bench/findings.md. Each
 * row comes back as its frame for its topic (page-frame.ts).
 */
async function readPages(db: Db, topics: readonly string[], after: EventId, limit: number): Promise<StoredEvent[][]> {
  // Only the columns a page needs cross the wire: each costs Postgres an output function
  // and pg a string per row (the function computes the others regardless; it is not inlined).
  const rows = await sql<FrameRow & { page?: number }>`
    SELECT ${topics.length === 1 ? sql`` : sql`page::int AS page, `}frame, topics
    FROM walcast.history_pages(${[...topics]}::text[], ${formatLsn(after.lsn)}::pg_lsn, ${after.seq}::int, ${limit}::int)`.execute(db)
  const pages: StoredEvent[][] = topics.map(() => [])
  for (const row of rows.rows) {
    const i = row.page === undefined ? 0 : row.page - 1
    pages[i]!.push(pageEvent(row, topics[i]!))
  }
  return pages
}

/**
 * `conflated`: the catalog's conflated topics, whose latest event per key the append
 * keeps (src/catalog/conflation.ts); the store that appends the ingest's events must
 * have them, or the state served to conflated subscribers falls behind.
 */
export function createHistoryStore(db: Db, conflated?: ConflatedTopics): HistoryStore {
  return {
    async append(events) {
      if (events.length === 0) return
      // The batch travels as one array per column (Postgres array literals built here,
      // array-literal.ts) and its payloads as one JSON array of the events' own text
      // (makeEvent serialized each once). Postgres zips them back into rows (ROWS FROM):
      // each value goes through its type's input function once and nothing else, where a
      // JSON document of row objects (json_to_recordset) makes it lex every payload twice
      // and build a hash table and a copy of every field per event: 40% of the append's
      // CPU (bench/findings.md). The payload, the id and the commit time are also stored
      // as the very texts the live frames splice in (sql/007): a replay page concatenates
      // them instead of formatting each, and the payload skips jsonb's parse here.
      // An event of a conflated topic also gets a "k" object: each of its conflated topics →
      // its key there (computed here: Postgres building it from the payload cost more than
      // the upsert); the others get {} (no key), and the array is sent only if one has a key.
      const n = events.length
      const lsns = new Array<string>(n)
      const seqs = new Array<number>(n)
      const topics = new Array<string>(n)
      const types = new Array<string>(n)
      const payloads = new Array<string>(n)
      const ids = new Array<string>(n)
      const times = new Array<string>(n)
      const keys = conflated === undefined ? [] : new Array<string>(n)
      let keyed = false
      for (let i = 0; i < n; i++) {
        const event = events[i]!
        if (conflated !== undefined) {
          let k = ''
          for (const topic of event.topics) {
            const fields = conflated.keyFields(topic)
            if (fields !== undefined) k += `${k === '' ? '' : ','}${JSON.stringify(topic)}:${conflationKeyJson(fields, event.data)}`
          }
          if (k !== '') keyed = true
          keys[i] = `{${k}}`
        }
        // A transaction's events share one LSN, formatted once (lsnText).
        lsns[i] = lsnText(event.lsn)
        seqs[i] = event.seq
        topics[i] = nestedArrayElement(event.topics)
        types[i] = arrayElement(event.type)
        payloads[i] = event.dataJson ?? JSON.stringify(event.data)
        // formatEventId's hex and dash: nothing to quote in an array literal.
        ids[i] = event.id
        times[i] = arrayElement(event.ts)
      }
      // Brackets inside the pieces: `[${join}]` would make a rope that pg flattens again
      // (Buffer.byteLength) before it sends it.
      const list = (items: Array<string | number>, open: string, close: string): string => {
        items[0] = `${open}${items[0]}`
        items[n - 1] = `${items[n - 1]}${close}`
        return items.join(',')
      }
      // One statement, so one round trip and its own transaction: the events, their topic
      // index rows and the keys they are now the latest of are durable together or not at
      // all. An id already stored is skipped (a batch appended again after a reconnect):
      // ids above the greatest stored one cannot be, so only the others pay an index probe,
      // and the INSERTs are plain ones: ON CONFLICT DO NOTHING's arbiter check probes every
      // row of both tables a second time, a quarter of the append's CPU. Only one
      // connection appends (the slot holder's); a second one appending the same ids at the
      // same moment (a node that lost the slot, its last write still running) makes this
      // one fail with a unique violation, and the ingest reconnects and appends again from
      // the last durable position, where the ids are then found stored: an error, never a
      // lost or doubled event.
      // A key is written once per statement (ON CONFLICT cannot touch a row twice), with
      // the batch's newest event of it, and only ever moves forward: a batch appended again
      // leaves a newer latest as it is.
      const latest = !keyed ? sql`` : sql`, latest AS (
          INSERT INTO walcast.latest_per_key AS lk (topic, key, commit_lsn, seq)
          SELECT DISTINCT ON (topic, key) topic, key, l, s FROM (
            SELECT kv.key AS topic, kv.value AS key, b.l, b.s FROM batch b, jsonb_each(b.k) AS kv
          ) keyed
          ORDER BY topic, key, l DESC, s DESC
          ON CONFLICT (topic, key) DO UPDATE SET commit_lsn = excluded.commit_lsn, seq = excluded.seq
            WHERE (lk.commit_lsn, lk.seq) < (excluded.commit_lsn, excluded.seq)
        )`
      // Prepared once per connection (PREPARED): at live rates a batch is a few events,
      // and parsing and planning this statement cost as much as running it.
      await sql`${sql.raw(PREPARED)}
        WITH top AS MATERIALIZED (
          SELECT commit_lsn, seq FROM walcast.events ORDER BY commit_lsn DESC, seq DESC LIMIT 1
        ), batch AS MATERIALIZED (
          SELECT x.l, x.s, x.t::text[] AS t, x.y, x.p, x.i, x.c${keyed ? sql`, x.k::jsonb AS k` : sql``}
          FROM ROWS FROM (
            unnest(${list(lsns, '{', '}')}::pg_lsn[]), unnest(${list(seqs, '{', '}')}::int[]), unnest(${list(topics, '{', '}')}::text[]),
            unnest(${list(types, '{', '}')}::text[]), json_array_elements(${list(payloads, '[', ']')}::json), unnest(${list(ids, '{', '}')}::text[]),
            unnest(${list(times, '{', '}')}::text[])${keyed ? sql`,
            json_array_elements(${list(keys, '[', ']')}::json)` : sql``}
          ) AS x(l, s, t, y, p, i, c${keyed ? sql`, k` : sql``})
          -- OFFSET 0 keeps the probe one primary-key lookup per row: without it the planner
          -- may build a hash of the whole history instead, once per statement.
          WHERE NOT EXISTS (SELECT 1 FROM top WHERE (top.commit_lsn, top.seq) >= (x.l, x.s))
            OR NOT EXISTS (SELECT 1 FROM walcast.events e WHERE e.commit_lsn = x.l AND e.seq = x.s OFFSET 0)
        ), stored AS (
          INSERT INTO walcast.events (commit_lsn, seq, topics, type, payload, id, ts, committed_at)
          SELECT l, s, t, y, p, i, c, c::timestamptz FROM batch
        )${latest}
        INSERT INTO walcast.event_topics (topic, commit_lsn, seq)
        SELECT tp, l, s FROM batch, unnest(t) AS tp`.execute(db)
    },

    async readSince(topic, after, limit) {
      return (await readPages(db, [topic], after, limit))[0]!
    },

    async readSinceEach(topics, after, limit) {
      return readPages(db, topics, after, limit)
    },

    async readAfter(after, limit) {
      const rows = await sql<PageRow>`
        SELECT e.commit_lsn::text AS commit_lsn, e.seq, array_to_json(e.topics)::text AS topics, e.type, ${payloadText('e')} AS payload,
          ${tsText('e')} AS ts
        FROM walcast.events e
        WHERE (e.commit_lsn, e.seq) > (${formatLsn(after.lsn)}::pg_lsn, ${after.seq}::int)
        ORDER BY e.commit_lsn, e.seq
        LIMIT ${limit}`.execute(db)
      return rows.rows.map((row) => storedEventFromJson({ lsn: parseLsn(row.commit_lsn), seq: row.seq }, row.type, JSON.parse(row.topics) as string[], row.payload, row.ts))
    },

    async lastId() {
      const row = await db.selectFrom('walcast.events')
        .select([sql<string>`commit_lsn::text`.as('lsn'), 'seq'])
        .orderBy('commit_lsn', 'desc').orderBy('seq', 'desc').limit(1)
        .executeTakeFirst()
      return row === undefined ? undefined : { lsn: parseLsn(row.lsn), seq: row.seq }
    },

    async horizon() {
      const row = await db.selectFrom('walcast.horizon')
        .select([sql<string>`commit_lsn::text`.as('lsn'), 'seq'])
        .executeTakeFirst()
      return row === undefined ? undefined : { lsn: parseLsn(row.lsn), seq: row.seq }
    },

    async lastGapEnd() {
      const row = await db.selectFrom('walcast.gaps')
        .select(sql<string>`until_lsn::text`.as('until'))
        .orderBy('until_lsn', 'desc').limit(1)
        .executeTakeFirst()
      return row === undefined ? undefined : parseLsn(row.until)
    },

    async lastGapEndAtOrBefore(lsn) {
      const row = await db.selectFrom('walcast.gaps')
        .select(sql<string>`until_lsn::text`.as('until'))
        .where(sql<boolean>`until_lsn <= ${formatLsn(lsn)}::pg_lsn`)
        .orderBy('until_lsn', 'desc').limit(1)
        .executeTakeFirst()
      return row === undefined ? undefined : parseLsn(row.until)
    },

    async idOffset() {
      const row = await db.selectFrom('walcast.epochs').select('id_offset').orderBy('id', 'desc').limit(1).executeTakeFirst()
      return row === undefined ? 0n : BigInt(row.id_offset)
    },

    async startEpoch(fromLsn, offset, gap) {
      await db.transaction().execute(async (trx) => {
        await trx.insertInto('walcast.epochs').values({ from_lsn: formatLsn(fromLsn), id_offset: offset.toString() }).execute()
        await trx.insertInto('walcast.gaps').values({ after_lsn: formatLsn(gap.afterLsn), until_lsn: formatLsn(gap.untilLsn), reason: 'server_behind' }).execute()
      })
    },

    async recordGap(afterLsn, untilLsn, reason) {
      const after = formatLsn(afterLsn)
      const until = formatLsn(untilLsn)
      await sql`
        INSERT INTO walcast.gaps (after_lsn, until_lsn, reason)
        SELECT ${after}::pg_lsn, ${until}::pg_lsn, ${reason}
        WHERE NOT EXISTS (
          SELECT 1 FROM walcast.gaps WHERE after_lsn = ${after}::pg_lsn AND until_lsn = ${until}::pg_lsn AND reason = ${reason})`.execute(db)
    },
  }
}
