import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { createHistoryStore } from '../../src/history/store.ts'
import { eventFrame, eventFrameJson, makeEvent } from '../../src/history/event.ts'
import { ZERO_ID } from '../../src/event-id.ts'

// Replay, SSE and polling frame events read back from the history with the stored JSON
// text spliced in (src/history/event.ts): each must equal, value for value, the frame the
// same event had live — ids, topic, type, data, commit time to the millisecond, lsn.
t.test('an event read back from the history frames exactly like the live event', async (t) => {
  const tdb = await createTestDatabase(t)
  const history = createHistoryStore(tdb.database.db)
  const live = [
    makeEvent({ lsn: 0x2a51b80n, seq: 0 }, { type: 'escrow:status_changed', topics: ['escrow:7', 'user:3'], data: { escrowId: '7', from: null, to: 'funded' } }, new Date('2026-11-22T07:01:02.345Z')),
    makeEvent({ lsn: 0x2a51b80n, seq: 1 }, { type: 'escrow:dispute_filed', topics: ['escrow:7', 'admin:disputes'], data: { escrowId: '7', disputeId: '9', filedBy: '3', reason: 'quote " backslash \\ unicode ü ✓ newline \n' } }, new Date('2026-11-22T07:01:02.345Z')),
    makeEvent({ lsn: 0x1_0000_0000n, seq: 0 }, { type: 'escrow:milestone_released', topics: ['escrow:7'], data: { escrowId: '7', milestoneId: '1', amount: '12.50', currency: 'EUR', releasedAt: '2026-11-22T07:01:03.000Z' } }, new Date('1999-12-31T23:59:59.999Z')),
  ]
  await history.append(live)
  const stored = await history.readSince('escrow:7', ZERO_ID, 100)
  t.equal(stored.length, live.length, 'every event read back')
  for (const [i, event] of stored.entries()) {
    const expected = JSON.parse(JSON.stringify(eventFrame(live[i]!, 'escrow:7'))) as unknown
    t.ok(event.dataJson !== undefined, `event ${i} carries its stored JSON text`)
    t.same(JSON.parse(eventFrameJson(event, 'escrow:7')), expected, `event ${i}: the spliced frame equals the live one`)
    t.same(JSON.parse(JSON.stringify(eventFrame(event, 'escrow:7'))), expected, `event ${i}: so does the frame built from its parsed data`)
    t.same(event.topics, live[i]!.topics, `event ${i}: its topics`)
  }
})
