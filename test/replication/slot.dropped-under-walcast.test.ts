import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { startTestService, STREAMING_WAIT_MS, waitForHistory } from '../helpers/service.ts'
import { capturingLogger } from '../helpers/log.ts'
import { dropSlotUnderWalcast, slotRow } from '../helpers/slot.ts'
import { waitFor } from '../helpers/wait.ts'
import { parseEventId } from '../../src/event-id.ts'
import { startService } from '../../src/service.ts'

async function seedEscrow(tdb: Awaited<ReturnType<typeof createTestDatabase>>, id: number): Promise<void> {
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES ($1, 'T', 1, 'USD')`, [id])
}

t.test('WALCAST_SLOT_RECREATE=true: the slot is recreated and the gap recorded, so resumes across it get reset', async (t) => {
  const tdb = await createTestDatabase(t)
  const { log, lines } = capturingLogger('info')
  const service = await startTestService(t, tdb, { WALCAST_SLOT_RECREATE: 'true' }, log)
  await seedEscrow(tdb, 1)
  const [first] = await waitForHistory(tdb, 1)
  t.equal(await service.history.lastGapEnd(), undefined, 'no gap before the slot is lost')

  await dropSlotUnderWalcast(tdb)
  const gapEnd = await waitFor(() => service.history.lastGapEnd(), 20_000, 'a recorded gap')
  await waitFor(() => service.ingest.status().state === 'streaming', STREAMING_WAIT_MS, 'streaming again')
  t.ok((await slotRow(tdb)) !== undefined, 'the slot exists again')

  const firstId = parseEventId(first!.id)
  t.ok(gapEnd > firstId.lsn, 'a resume from an event before the loss lies before the gap end: it gets reset')
  const gaps = await tdb.query<{ reason: string }>('SELECT reason FROM walcast.gaps')
  t.same(gaps.rows.map((r) => r.reason), ['slot_recreated'])

  await seedEscrow(tdb, 3)
  const rows = await waitForHistory(tdb, 2)
  const after = parseEventId(rows.at(-1)!.id)
  t.ok(after.lsn >= gapEnd, 'events after the new slot lie past the gap: resumes from them continue normally')
  t.same(rows.map((r) => r.payload.escrowId), ['1', '3'])
  t.ok(lines().some((l) => l.includes('"level":"error"') && l.includes('recorded a gap')), 'an error log says what happened')
})

t.test('without WALCAST_SLOT_RECREATE: a clear error log, no new slot, and walcast waits', async (t) => {
  const tdb = await createTestDatabase(t)
  const { log, lines } = capturingLogger('info')
  const service = await startTestService(t, tdb, {}, log)
  await seedEscrow(tdb, 1)
  await waitForHistory(tdb, 1)
  await dropSlotUnderWalcast(tdb)
  const status = await waitFor(() => {
    const s = service.ingest.status()
    return s.state === 'waiting' && s.reason?.includes('missing') ? s : undefined
  }, 20_000, 'ingest waiting for the missing slot')
  t.match(status.reason, /slot ws_[0-9a-f]+ is missing/)
  const errors = lines().filter((l) => l.includes('"level":"error"'))
  t.equal(errors.length, 1, 'logged once, not on every retry')
  t.match(errors[0], /replication slot was dropped: changes after the last durable position are lost; set WALCAST_SLOT_RECREATE=true/)
  await new Promise((resolve) => setTimeout(resolve, 800))
  t.equal(await slotRow(tdb), undefined, 'the slot is not recreated behind the DBA\'s back')
  t.equal(await service.history.lastGapEnd(), undefined)
})

t.test('a slot dropped while walcast was stopped is noticed at the next start', async (t) => {
  const tdb = await createTestDatabase(t)
  const first = await startService(tdb.config(), capturingLogger('info').log)
  await waitFor(() => first.ingest.status().state === 'streaming', STREAMING_WAIT_MS, 'streaming')
  await seedEscrow(tdb, 1)
  await waitForHistory(tdb, 1)
  await first.stop()
  // The walsender exits shortly after the connection closes.
  await waitFor(() => tdb.query('SELECT pg_drop_replication_slot($1)', [tdb.slot]).then(() => true), 15_000, 'slot dropped')

  const { log, lines } = capturingLogger('info')
  const second = await startService(tdb.config(), log)
  t.teardown(() => second.stop())
  await waitFor(() => second.ingest.status().state === 'waiting', 15_000, 'waiting for the missing slot')
  t.ok(lines().some((l) => l.includes('replication slot was dropped')), 'the loss is reported, not papered over by a fresh slot')
  t.equal(await slotRow(tdb), undefined)
  await second.stop()

  const third = await startTestService(t, tdb, { WALCAST_SLOT_RECREATE: 'true' })
  const gapEnd = await third.history.lastGapEnd()
  t.ok(gapEnd !== undefined && gapEnd > 0n, 'recreating it at start-up records the gap')
})
