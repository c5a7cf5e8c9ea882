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
 * Returns undefined when the position can be resumed. The newest gap comes from the
 * history, or from `hub` when its window covers the position: the decision is made here
 * either way.
 */
export async function unresumableReason(history: HistoryStore, position: string, head: string, hub?: ResumeFactSource): Promise<ResetReason | undefined> {
  const id = parseEventId(position)
  // The horizon is always read: any node (or an operator) may have pruned, and no hub
  // hears of it. The newest gap comes from the hub when its window covers the position.
  const known = hub?.resumeFacts(position)
  const [horizon, gapEnd] = await Promise.all([history.horizon(), known !== undefined ? known.gapEnd : history.lastGapEnd()])
  const mark = gapEnd === undefined ? undefined : gapMark(gapEnd)
  if (position > head && (mark === undefined || position > mark)) return 'unknown_position'
  // The horizon is the greatest id pruned: from the horizon itself nothing is missing.
  if (horizon !== undefined && compareEventIds(id, horizon) < 0) return 'history_gone'
  if (mark !== undefined && position < mark) return 'stream_gap'
  return undefined
}

/** What a hub can prove about the stream after a position its window covers. */
export interface HubResumeFacts {
  /** The end of the newest recorded gap. */
  readonly gapEnd: bigint | undefined
}

/**
 * The hub, when its window holds every event after the position: a resume storm of
 * clients a few hundred events behind then costs no gap read per client.
 */
export interface ResumeFactSource {
  resumeFacts(position: string): HubResumeFacts | undefined
}
