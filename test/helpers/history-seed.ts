import type pg from 'pg'
import type { Test } from 'tap'
import type { TestDatabase } from './db.ts'
import { createDatabase, type Database } from '../../src/db/database.ts'
import { makeEvent, type StoredEvent } from '../../src/history/event.ts'

/**
 * Writes `count` events of `topic` straight into the history, at LSNs far below any
 * real commit (0/1000 upwards), as if walcast had stored them long ago. Returns their
 * ids in order. Fast enough for hundreds of thousands of rows; use it for replays from
 * far back. `padding` adds that many characters to each payload.
 */
export async function seedHistory(tdb: TestDatabase, topic: string, count: number, options: { padding?: number; firstLsn?: number; ageMs?: number } = {}): Promise<string[]> {
  const first = options.firstLsn ?? 0x1000
  const padding = 'p'.repeat(options.padding ?? 0)
  await tdb.query(`
    WITH rows AS (
      SELECT ($1::bigint + i) AS lsn, i FROM generate_series(0, $2::int - 1) AS i
    ), ins AS (
      INSERT INTO walcast.events (commit_lsn, seq, topics, type, payload, committed_at)
      SELECT ('0/' || to_hex(lsn))::pg_lsn, 0, ARRAY[$3::text], 'escrow:status_changed',
             jsonb_build_object('escrowId', '0', 'from', 'funded', 'to', 'in_progress', 'n', i, 'padding', $4::text),
             now() - make_interval(secs => $5::double precision / 1000) + make_interval(secs => i / 1000.0)
      FROM rows
    )
    INSERT INTO walcast.event_topics (topic, commit_lsn, seq)
    SELECT $3, ('0/' || to_hex(lsn))::pg_lsn, 0 FROM rows`, [first, count, topic, padding, options.ageMs ?? 3_600_000])
  return Array.from({ length: count }, (_, i) => `${(first + i).toString(16).padStart(16, '0')}-00000000`)
}

/**
 * Holds the history tables locked, so every history read waits in Postgres with its pool
 * connection, as reads do when a storm outruns the database. Resolves the release.
 */
export async function lockHistory(tdb: TestDatabase): Promise<() => Promise<void>> {
  return lockTables(tdb, ['walcast.events', 'walcast.event_topics'])
}

/** Holds `tables` locked (ACCESS EXCLUSIVE) on a connection of the test's own: every query of them waits. Resolves the release. */
export async function lockTables(tdb: TestDatabase, tables: readonly string[]): Promise<() => Promise<void>> {
  const client: pg.PoolClient = await tdb.database.pool.connect()
  await client.query('BEGIN')
  await client.query(`LOCK TABLE ${tables.join(', ')} IN ACCESS EXCLUSIVE MODE`)
  return async () => {
    await client.query('COMMIT')
    client.release()
  }
}

/**
 * A one-connection pool of its own on `tdb`, so the plans its statements print (as
 * notices, under auto_explain or EXPLAIN) come back in order: `plans` collects those
 * that name walcast.event_topics, the history append's.
 */
export function appendPlanPool(t: Test, tdb: TestDatabase): { database: Database; plans: string[] } {
  const database = createDatabase({ url: tdb.url, poolSize: 1 })
  t.teardown(() => database.close())
  const plans: string[] = []
  database.pool.on('connect', (client) => {
    client.on('notice', (notice) => { if (notice.message?.includes('walcast.event_topics') === true) plans.push(notice.message) })
  })
  return { database, plans }
}

/**
 * Events made in memory at consecutive LSNs from `start`, one per `add`, for tests that
 * append them through the history store themselves; `made` lists them in order.
 */
export function eventMaker(start: bigint): { made: StoredEvent[]; add(type: string, topics: string[], data: Record<string, unknown>): StoredEvent } {
  let lsn = start
  const made: StoredEvent[] = []
  const add = (type: string, topics: string[], data: Record<string, unknown>): StoredEvent => {
    const event = makeEvent({ lsn: lsn++, seq: 0 }, { type, topics, data }, new Date())
    made.push(event)
    return event
  }
  return { made, add }
}
