import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { startTestService, waitForHistory } from '../helpers/service.ts'
import { waitFor } from '../helpers/wait.ts'

// Status updates are coalesced (one per 50 ms while batches keep coming), not deferred:
// with the periodic status update and the heartbeat an hour away, and no walsender
// keepalive due for half of wal_sender_timeout (30 s), only that path can move the slot
// within the 10 s this test allows (3 s was tight for a loaded CI host: the walsender,
// walcast and the test share two cores with another test file).
t.test('I1: durable batches are confirmed to the server within moments, not at the next status interval', async (t) => {
  const tdb = await createTestDatabase(t)
  await startTestService(t, tdb, { WALCAST_STATUS_INTERVAL: '1h', WALCAST_HEARTBEAT: '1h' })
  // Separate commits in quick succession: several batches inside one coalescing window.
  for (let id = 1; id <= 30; id++) await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES ($1, 'e', 1, 'USD')`, [id])
  await waitForHistory(tdb, 30)
  const last = (await tdb.query<{ lsn: string }>('SELECT max(commit_lsn)::text AS lsn FROM walcast.events')).rows[0]!.lsn
  const confirmed = await waitFor(async () => {
    const row = (await tdb.query<{ past: boolean }>('SELECT confirmed_flush_lsn > $2::pg_lsn AS past FROM pg_replication_slots WHERE slot_name = $1', [tdb.slot, last])).rows[0]
    return row?.past === true ? true : undefined
  }, 10_000, 'confirmed_flush_lsn to pass the last durable commit').catch(() => false)
  t.ok(confirmed, 'the slot passed the last durable commit while walcast kept running')
})
