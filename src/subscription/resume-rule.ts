import { compareEventIds, gapMark, parseEventId } from '../event-id.ts'
import type { HistoryStore } from '../history/store.ts'
import type { ResetReason } from '../protocol/server-frames.ts'

export type { ResetReason }

/**
 * The one rule for "can the stream after `position` be proven complete?" (invariant I4),
 * asked before a replay and again after every replay page and polling read:
 * - not when pruning may have removed events after it: a position below the prune
 *   horizon, the greatest id pruned (`history_gone`);
 * - not when a recorded gap (slot lost or recreated, TRUNCATE) ends after it: a position
 *   below the newest gap's mark (`stream_gap`); the mark itself is what a `reset` for that
 *   gap hands out as its head, so a client told once is not told again;
 * - not when it lies ahead of the head and of the gap's mark: walcast never issued it,
 *   it comes from another database or a moved server, and waiting for the WAL to pass it
 *   would skip every event until then (`unknown_position`).
 * Returns undefined when the position can be resumed.
 */
export async function unresumableReason(history: HistoryStore, position: string, head: string): Promise<ResetReason | undefined> {
  const id = parseEventId(position)
  const [horizon, gapEnd] = await Promise.all([history.horizon(), history.lastGapEnd()])
  const mark = gapEnd === undefined ? undefined : gapMark(gapEnd)
  if (position > head && (mark === undefined || position > mark)) return 'unknown_position'
  // The horizon is the greatest id pruned: from the horizon itself nothing is missing.
  if (horizon !== undefined && compareEventIds(id, horizon) < 0) return 'history_gone'
  if (mark !== undefined && position < mark) return 'stream_gap'
  return undefined
}
