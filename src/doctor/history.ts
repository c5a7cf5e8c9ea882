import { sql } from 'kysely'
import { formatBytes, formatDuration } from '../format.ts'
import { fail, pass, warn, type CheckResult, type DoctorContext } from './check.ts'

/** Slack before an old event counts as "pruning is behind": runs are periodic and batched. */
const PRUNE_SLACK_MS = 3_600_000

/** The history: its size, whether retention is enforced, and whether it matches this server. */
export async function checkHistory(ctx: DoctorContext): Promise<CheckResult[]> {
  const exists = (await sql<{ ok: boolean }>`SELECT to_regclass('walcast.events') IS NOT NULL AS ok`.execute(ctx.db)).rows[0]!.ok
  if (!exists) return [fail('history.size', 'the history table walcast.events does not exist', 'walcast migrate')]
  // Ids are commit LSNs plus the offset of the id epoch in force (src/ingest/id-epoch.ts).
  const hasEpochs = (await sql<{ ok: boolean }>`SELECT to_regclass('walcast.epochs') IS NOT NULL AS ok`.execute(ctx.db)).rows[0]!.ok
  const offset = hasEpochs
    ? (await sql<{ offset: string | null }>`SELECT (SELECT id_offset FROM walcast.epochs ORDER BY id DESC LIMIT 1)::text AS offset`.execute(ctx.db)).rows[0]!.offset ?? '0'
    : '0'
  const row = (await sql<{ rows: number; bytes: string; oldest: Date | null; last_lsn: string | null; ahead: boolean | null; gaps: number; last_gap: Date | null }>`
    SELECT (SELECT count(*)::int FROM walcast.events) AS rows,
           (pg_total_relation_size('walcast.events') + pg_total_relation_size('walcast.event_topics'))::text AS bytes,
           (SELECT min(committed_at) FROM walcast.events) AS oldest,
           (SELECT max(commit_lsn)::text FROM walcast.events) AS last_lsn,
           (SELECT max(commit_lsn) > pg_current_wal_lsn() + ${offset}::numeric FROM walcast.events) AS ahead,
           (SELECT count(*)::int FROM walcast.gaps) AS gaps,
           (SELECT max(recorded_at) FROM walcast.gaps) AS last_gap`.execute(ctx.db)).rows[0]!
  const results: CheckResult[] = [pass('history.size', `${row.rows} events, ${formatBytes(Number(row.bytes))} on disk`)]

  const retention = formatDuration(ctx.retentionMs)
  if (row.oldest === null) {
    results.push(pass('history.retention', `empty; events are kept ${retention} (WALCAST_RETENTION)`))
  } else {
    const age = Date.now() - row.oldest.getTime()
    const limit = ctx.retentionMs + Math.max(2 * ctx.pruneIntervalMs, PRUNE_SLACK_MS)
    results.push(age > limit
      ? warn('history.retention', `the oldest event is ${formatDuration(age)} old, retention is ${retention}: pruning is behind or walcast is not running`,
        "walcast history prune; then check walcast's logs for 'history prune failed'")
      : pass('history.retention', `the oldest event is ${formatDuration(age)} old; retention is ${retention}`))
  }

  results.push(row.gaps === 0
    ? pass('history.gaps', 'no gaps recorded')
    : pass('history.gaps', `${row.gaps} gap(s) recorded, the last at ${row.last_gap!.toISOString()}: clients resuming from before a gap get reset`))

  results.push(row.ahead
    ? warn('history.position', `the history ends at LSN ${row.last_lsn}, beyond this server's WAL position: the server was replaced or restored; walcast serve will shift new ids past the history and record a gap, and every client gets reset`,
      'if this is the wrong server, point DATABASE_URL at the one walcast streamed from; see docs/operations.md#a-server-behind-the-history')
    : pass('history.position', row.last_lsn === null ? 'no events yet' : `the history ends at LSN ${row.last_lsn}, behind the server's WAL position`))
  return results
}
