import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { startTestService } from '../helpers/service.ts'
import { currentLsn, lsnDiff, slotRow } from '../helpers/slot.ts'
import { waitFor } from '../helpers/wait.ts'

t.test('the heartbeat advances confirmed_flush_lsn while only an untracked table is written', async (t) => {
  const tdb = await createTestDatabase(t)
  await tdb.query('CREATE TABLE public.audit_log (id bigserial PRIMARY KEY, body text NOT NULL)')
  await startTestService(t, tdb, { WALCAST_HEARTBEAT: '1s' })
  const before = (await slotRow(tdb))!

  // Busy untracked traffic: pgoutput sends nothing for these transactions at all.
  for (let i = 0; i < 20; i++) {
    await tdb.query(`INSERT INTO public.audit_log (body) SELECT md5(g::text) FROM generate_series(1, 500) g`)
  }
  const written = await currentLsn(tdb)
  t.ok(await lsnDiff(tdb, written, before.confirmed_flush_lsn) > 100_000, 'the untracked writes produced WAL past the slot')

  const after = await waitFor(async () => {
    const row = (await slotRow(tdb))!
    return (await lsnDiff(tdb, row.confirmed_flush_lsn, written)) >= 0 ? row : undefined
  }, 20_000, 'confirmed_flush_lsn to pass the untracked writes')
  t.ok(await lsnDiff(tdb, after.confirmed_flush_lsn, before.confirmed_flush_lsn) > 100_000, 'the slot moved past the untracked traffic')
  const events = await tdb.query<{ n: number }>('SELECT count(*)::int AS n FROM walcast.events')
  t.equal(events.rows[0]!.n, 0, 'no events were invented for the untracked table')
})
