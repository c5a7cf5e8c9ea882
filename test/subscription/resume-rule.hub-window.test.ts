import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { createHistoryStore } from '../../src/history/store.ts'
import { pruneHistory } from '../../src/history/prune.ts'
import { makeEvent } from '../../src/history/event.ts'
import { createHub } from '../../src/hub/hub.ts'
import { formatEventId, gapMark } from '../../src/event-id.ts'
import { unresumableReason } from '../../src/subscription/resume-rule.ts'

const DAY = 86_400_000
const id = (lsn: bigint): string => formatEventId({ lsn, seq: 0 })
const event = (lsn: bigint, daysAgo: number) => makeEvent({ lsn, seq: 0 }, { type: 't', topics: ['escrow:1'], data: { n: Number(lsn) } }, new Date(Date.now() - daysAgo * DAY))

// A resume storm asks the rule once per client: the gap read comes from the hub when its
// window covers the position, but the verdict is the same as the history's.
t.test('I4: the rule gives the same verdict with the hub\'s facts as with the history\'s', async (t) => {
  const tdb = await createTestDatabase(t)
  const history = createHistoryStore(tdb.database.db)
  const old = [0x1000n, 0x1001n, 0x1002n].map((lsn) => event(lsn, 10))
  await history.append(old)
  await history.recordGap(0x1100n, 0x1200n, 'truncate')
  const fresh = [0x2000n, 0x2001n, 0x2002n].map((lsn) => event(lsn, 0))
  await history.append(fresh)
  const hub = createHub({ windowSize: 100 })
  hub.goLive(id(0x1002n), 0x1200n)
  hub.publish(fresh)
  const both = async (position: string): Promise<[unknown, unknown]> => [await unresumableReason(history, position, hub.head()!), await unresumableReason(history, position, hub.head()!, hub)]

  t.same(await both(id(0x1002n)), ['stream_gap', 'stream_gap'], 'a position before a gap the hub knows of')
  t.same(await both(gapMark(0x1200n)), [undefined, undefined], 'the gap\'s mark resumes')
  t.same(await both(id(0x2001n)), [undefined, undefined], 'inside the window')
  t.same(await both(id(0x3000n)), ['unknown_position', 'unknown_position'], 'ahead of the head')
  t.same(await both(id(0x1000n)), ['stream_gap', 'stream_gap'], 'before the window: the history answers for both')

  // Pruned by another node or an operator: no hub hears of it, so the horizon is always read.
  await pruneHistory(tdb.database.db, { retentionMs: DAY, pruneBatch: 100, pruneIntervalMs: 60_000 })
  await history.append([event(0x2003n, 20)])
  hub.publish([event(0x2003n, 20)])
  await pruneHistory(tdb.database.db, { retentionMs: DAY, pruneBatch: 100, pruneIntervalMs: 60_000 })
  t.same(await both(id(0x2001n)), ['history_gone', 'history_gone'], 'inside the window, but an event after it was pruned')
  t.same(await both(id(0x2003n)), [undefined, undefined], 'from the horizon itself nothing is missing')
})
