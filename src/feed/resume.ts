import { compareEventIds, parseEventId } from '../event-id.ts'
import type { HistoryStore } from '../history/store.ts'

/**
 * Whether the stream after `since` can still be proven complete: not when pruning may
 * have removed events after it, nor when a recorded gap ends after it.
 */
export async function canResumeFrom(history: HistoryStore, since: string): Promise<boolean> {
  const id = parseEventId(since)
  const [horizon, gapEnd] = await Promise.all([history.horizon(), history.lastGapEnd()])
  if (horizon !== undefined && compareEventIds(id, horizon) < 0) return false
  if (gapEnd !== undefined && id.lsn < gapEnd) return false
  return true
}
