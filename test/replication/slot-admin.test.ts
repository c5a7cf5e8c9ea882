import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { startTestService } from '../helpers/service.ts'
import { slotRow, waitForActiveSlot } from '../helpers/slot.ts'
import { createHistoryStore } from '../../src/history/store.ts'
import { createSlotRecordingGap, dropSlot } from '../../src/replication/slot-admin.ts'

t.test('dropSlot lets Postgres refuse an active slot, and names a missing one', async (t) => {
  const tdb = await createTestDatabase(t)
  await startTestService(t, tdb)
  await waitForActiveSlot(tdb)
  const db = tdb.database.db
  await t.rejects(dropSlot(db, tdb.slot), { code: 'SLOT_ACTIVE', message: `replication slot ${tdb.slot} is active; an active slot is never dropped` })
  t.ok((await slotRow(tdb))?.active, 'still there and streaming')
  await t.rejects(dropSlot(db, 'ws_no_such_slot'), { code: 'SLOT_MISSING', hint: /walcast slot status/ })
})

t.test('createSlotRecordingGap passes on errors it cannot explain better', async (t) => {
  const tdb = await createTestDatabase(t)
  const db = tdb.database.db
  // Upper case is not a valid slot name: Postgres' own error (42602) comes through untouched.
  await t.rejects(createSlotRecordingGap(db, createHistoryStore(db), 'Not-A-Slot'), { code: '42602' })
})
