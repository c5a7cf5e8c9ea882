import { sql } from 'kysely'
import type { Db } from '../db/database.ts'
import { formatLsn, parseLsn } from '../event-id.ts'
import type { HistoryStore } from '../history/store.ts'
import type { Logger } from '../log.ts'

/**
 * Before streaming: the offset to add to commit LSNs so new ids sort after every stored
 * one. Normally the history is behind the server's WAL and the offset stays what it was.
 * When the server is behind the history — a failover to a lagging replica, a
 * point-in-time restore — its new commits would get ids below ids already published: the
 * publisher would drop them as seen, and appends could collide on (commit_lsn, seq) and
 * vanish in ON CONFLICT DO NOTHING. Then a new epoch starts: every id from `startLsn` on
 * is shifted past the history's head, and the range in between is recorded as a gap, so
 * every client is told `reset` (I4, I6) instead of silently missing or mixing events.
 */
export async function resolveIdOffset(db: Db, history: HistoryStore, startLsn: bigint, log: Logger): Promise<bigint> {
  const [offset, head, serverLsn] = await Promise.all([history.idOffset(), history.lastId(), currentWalLsn(db)])
  // Ids up to the server's position + offset are ones this server can have issued.
  if (head === undefined || head.lsn <= serverLsn + offset) return offset
  const from = startLsn < serverLsn ? startLsn : serverLsn
  // Every commit this server streams from now on has an LSN >= from: shifted, above head.
  const shifted = head.lsn - from + 1n
  const next = shifted > offset ? shifted : offset
  await history.startEpoch(from, next, { afterLsn: head.lsn, untilLsn: from + next })
  log.error({ historyEnd: formatLsn(head.lsn), serverWal: formatLsn(serverLsn), idOffset: next.toString() },
    "the server's WAL is behind the history (a failover to a lagging replica or a restore): new ids are shifted past the history, and a gap is recorded so clients are reset")
  return next
}

async function currentWalLsn(db: Db): Promise<bigint> {
  const row = await sql<{ lsn: string }>`SELECT pg_current_wal_lsn()::text AS lsn`.execute(db)
  return parseLsn(row.rows[0]!.lsn)
}
