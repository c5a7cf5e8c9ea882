import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { STREAMING_WAIT_MS, countEvents, startTestService } from '../helpers/service.ts'
import { childEnv, spawnWalcast } from '../helpers/spawn.ts'
import { waitFor } from '../helpers/wait.ts'
import { startService } from '../../src/service.ts'
import { silentLogger } from '../helpers/log.ts'

t.test('a second walcast on the same slot waits, then takes over when the first dies', async (t) => {
  const tdb = await createTestDatabase(t)
  const first = spawnWalcast(['serve'], childEnv(tdb))
  t.teardown(() => first.kill('SIGKILL'))
  await waitFor(() => first.stdout().includes('replication streaming'), STREAMING_WAIT_MS, 'first walcast streaming')
  await waitFor(async () => (await tdb.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active`, [tdb.slot])).rowCount === 1, 30_000, 'first walcast holds the slot')

  const second = await startService(tdb.config(), silentLogger())
  t.teardown(() => second.stop())
  await waitFor(() => second.ingest.status().state === 'waiting', 15_000, 'second walcast waiting')
  t.match(second.ingest.status().reason, /held by pid|is active for PID/, 'it says why it waits')
  await new Promise((resolve) => setTimeout(resolve, 1000))
  t.equal(second.ingest.status().state, 'waiting', 'it keeps waiting instead of crash-looping')

  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (1, 'while the first runs', 1, 'USD')`)
  await waitFor(async () => (await countEvents(tdb)) === 1, 15_000, 'the first walcast ingests')

  first.kill('SIGKILL')
  await first.exited
  await waitFor(() => second.ingest.status().state === 'streaming', 30_000, 'second walcast took over')
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (2, 'after takeover', 1, 'USD')`)
  await waitFor(async () => (await countEvents(tdb)) === 2, 15_000, 'the second walcast ingests')
  const rows = await tdb.query<{ escrow: string }>(`SELECT payload->>'escrowId' AS escrow FROM walcast.events ORDER BY commit_lsn, seq`)
  t.same(rows.rows.map((r) => r.escrow), ['1', '2'], 'nothing lost or doubled across the takeover')
})

t.test('graceful stop acknowledges everything durable', async (t) => {
  const tdb = await createTestDatabase(t)
  const service = await startTestService(t, tdb)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (1, 'a', 1, 'USD')`)
  await waitFor(async () => (await countEvents(tdb)) === 1)
  await service.stop()
  // The walsender applies the last status update as it processes the closing connection.
  const acked = await waitFor(async () => (await tdb.query<{ acked: boolean }>(
    `SELECT confirmed_flush_lsn > (SELECT max(commit_lsn) FROM walcast.events) AS acked FROM pg_replication_slots WHERE slot_name = $1`, [tdb.slot])).rows[0]!.acked, 5_000, 'slot confirmed').catch(() => false)
  t.ok(acked, 'slot confirmed past the last event')
  // The walsender exits a moment after the connection closes.
  await waitFor(async () => (await tdb.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, [tdb.slot])).rowCount === 1, 10_000, 'slot released')
  t.equal(service.ingest.status().state, 'stopped')
  await service.stop()
  t.pass('a second stop is harmless')
})

t.test('a stop right after start-up returns promptly, wherever start-up was', async (t) => {
  const tdb = await createTestDatabase(t)
  // Each stop lands at a different point: slot lookup, connect, START_REPLICATION.
  for (const delayMs of [0, 5, 20, 50, 100]) {
    const service = await startService(tdb.config(), silentLogger())
    await new Promise((resolve) => setTimeout(resolve, delayMs))
    await service.stop()
    t.equal(service.ingest.status().state, 'stopped', `stopped after ${delayMs} ms`)
  }
})
