import type { Test } from 'tap'
import { startService, type Service } from '../../src/service.ts'
import type { StoredEvent } from '../../src/history/event.ts'
import type { Logger } from '../../src/log.ts'
import type { TestDatabase } from './db.ts'
import { silentLogger } from './log.ts'
import { waitFor } from './wait.ts'

/**
 * How long a walcast that creates its slot may take to stream. Creating a logical slot waits
 * for every transaction that holds an xid on the whole server to end, other test databases'
 * included, and the suite runs two files at once: a test holding a table lock (ACCESS
 * EXCLUSIVE takes an xid) for the 11.5 s of gateway.resume-storm-pool, or seeding 60,000
 * events in one statement, holds back every slot created meanwhile by as much.
 */
export const STREAMING_WAIT_MS = 60_000

/** A walcast service in this process on the test database; stopped at teardown. */
export async function startTestService(t: Test, tdb: TestDatabase, env: Record<string, string> = {}, log: Logger = silentLogger()): Promise<Service> {
  const service = await startService(tdb.config(env), log)
  t.teardown(() => service.stop())
  await waitFor(() => service.ingest.status().state === 'streaming', STREAMING_WAIT_MS, 'ingest streaming')
  return service
}

/** Every event the hub publishes from now on, in order. */
export function collectPublished(service: Service): StoredEvent[] {
  const seen: StoredEvent[] = []
  service.hub.subscribe((events) => seen.push(...events))
  return seen
}

export interface HistoryRow {
  id: string
  topics: string[]
  type: string
  payload: Record<string, unknown>
}

/** The whole stored history in id order, ids formatted as clients see them. */
export async function historyRows(tdb: Pick<TestDatabase, 'query'>): Promise<HistoryRow[]> {
  const result = await tdb.query<HistoryRow>(`
    SELECT lpad(to_hex((commit_lsn - '0/0')::bigint), 16, '0') || '-' || lpad(to_hex(seq), 8, '0') AS id, topics, type, payload
    FROM walcast.events ORDER BY commit_lsn, seq`)
  return result.rows
}

/** Waits until the history holds at least `n` events and returns them. */
export async function waitForHistory(tdb: Pick<TestDatabase, 'query'>, n: number, ms = 20_000): Promise<HistoryRow[]> {
  return waitFor(async () => {
    const rows = await historyRows(tdb)
    return rows.length >= n ? rows : undefined
  }, ms, `${n} events in history`)
}

export async function countEvents(tdb: Pick<TestDatabase, 'query'>): Promise<number> {
  return (await tdb.query<{ n: number }>('SELECT count(*)::int AS n FROM walcast.events')).rows[0]!.n
}
