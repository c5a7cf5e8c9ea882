import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { createHistoryStore } from '../../src/history/store.ts'
import { pruneHistory, startPruner } from '../../src/history/prune.ts'
import { makeEvent } from '../../src/history/event.ts'
import { formatEventId, parseEventId } from '../../src/event-id.ts'
import { capturingLogger } from '../helpers/log.ts'
import { waitFor } from '../helpers/wait.ts'

const DAY = 86_400_000

function event(lsn: bigint, seq: number, topic: string, daysAgo: number) {
  return makeEvent({ lsn, seq }, { type: 'escrow:status_changed', topics: [topic, 'admin:disputes'], data: { n: seq } }, new Date(Date.now() - daysAgo * DAY))
}

t.test('I4: events older than the retention are pruned in batches and the horizon moves', async (t) => {
  const tdb = await createTestDatabase(t)
  const history = createHistoryStore(tdb.database.db)
  const events = [
    ...Array.from({ length: 7 }, (_, i) => event(0x1000n + BigInt(i), 0, 'escrow:1', 10)),
    ...Array.from({ length: 3 }, (_, i) => event(0x2000n + BigInt(i), 0, 'escrow:1', 1)),
  ]
  await history.append(events)
  await history.append(events.slice(0, 2))
  t.equal(await history.horizon(), undefined, 'no horizon before any prune')
  t.equal((await history.readSince('escrow:1', parseEventId(formatEventId({ lsn: 0n, seq: 0 })), 100)).length, 10, 'appending twice stored each event once')

  const result = await pruneHistory(tdb.database.db, { retentionMs: 7 * DAY, pruneBatch: 2, pruneIntervalMs: 60_000 })
  t.equal(result.deleted, 7, 'every event older than 7 days, in batches of 2')
  t.same(await history.horizon(), { lsn: 0x1006n, seq: 0 }, 'horizon = the greatest pruned id')
  const left = await history.readSince('escrow:1', { lsn: 0n, seq: 0 }, 100)
  t.same(left.map((e) => e.lsn), [0x2000n, 0x2001n, 0x2002n])
  const topics = await tdb.query<{ n: number }>('SELECT count(*)::int AS n FROM walcast.event_topics')
  t.equal(topics.rows[0]!.n, 6, 'topic index rows of pruned events are gone too')

  const again = await pruneHistory(tdb.database.db, { retentionMs: 7 * DAY, pruneBatch: 2, pruneIntervalMs: 60_000 })
  t.equal(again.deleted, 0)
  t.same(await history.horizon(), { lsn: 0x1006n, seq: 0 }, 'the horizon never moves back')
})

t.test('the pruner runs on a timer and logs what it pruned', async (t) => {
  const tdb = await createTestDatabase(t)
  const history = createHistoryStore(tdb.database.db)
  await history.append([event(0x10n, 0, 'escrow:9', 3), event(0x10n, 1, 'escrow:9', 3)])
  const { log, lines } = capturingLogger('info')
  const pruned: number[] = []
  const pruner = startPruner(tdb.database.db, { retentionMs: DAY, pruneBatch: 10, pruneIntervalMs: 50 }, log, (r) => pruned.push(r.deleted))
  await waitFor(() => pruned.length >= 2)
  await pruner.stop()
  t.equal(pruned[0], 2)
  t.ok(lines().some((l) => l.includes('"deleted":2') && l.includes('pruned history')))
})

t.test('gaps are recorded and the newest gap end is known', async (t) => {
  const tdb = await createTestDatabase(t)
  const history = createHistoryStore(tdb.database.db)
  t.equal(await history.lastGapEnd(), undefined)
  await history.recordGap(0x100n, 0x200n, 'slot_recreated')
  await history.recordGap(0x300n, 0x400n, 'slot_recreated')
  t.equal(await history.lastGapEnd(), 0x400n)
})
