import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { startTestService } from '../helpers/service.ts'
import { capturingLogger } from '../helpers/log.ts'
import { dropSlotUnderWalcast } from '../helpers/slot.ts'
import { waitFor } from '../helpers/wait.ts'
import { createDatabase } from '../../src/db/database.ts'
import { createWalMonitor } from '../../src/observability/wal-monitor.ts'

const warnings = (lines: string[]) => lines.filter((l) => l.includes('"level":"warn"') && l.includes('WALCAST_WAL_WARN_BYTES'))

t.test('retained WAL past WALCAST_WAL_WARN_BYTES: a warning log on the timer and a metric', async (t) => {
  const tdb = await createTestDatabase(t)
  const { log, lines } = capturingLogger('info')
  const service = await startTestService(t, tdb, { WALCAST_WAL_WARN_BYTES: '1', WALCAST_WAL_CHECK_INTERVAL: '1s', WALCAST_LOG_LEVEL: 'info' }, log)
  const line = await waitFor(() => warnings(lines())[0], 15_000, 'the retained-WAL warning')
  const entry = JSON.parse(line)
  t.equal(entry.slot, tdb.slot)
  t.equal(entry.thresholdBytes, 1)
  t.ok(entry.retainedBytes > 1, 'the warning carries the figure')
  const metrics = await (await fetch(`http://127.0.0.1:${service.http.port}/metrics`)).text()
  t.match(metrics, /^walcast_slot_retained_wal_over_threshold 1$/m)
  t.match(metrics, /^walcast_slot_retained_wal_warn_bytes 1$/m)
})

t.test('the warning is not repeated on every check, and recovery is logged', async (t) => {
  const tdb = await createTestDatabase(t)
  await startTestService(t, tdb)
  const { log, lines } = capturingLogger('info')
  const monitor = createWalMonitor(tdb.database.db, { slot: tdb.slot, warnBytes: 1, intervalMs: 60_000 }, log)
  t.teardown(() => monitor.stop())
  t.equal((await monitor.sample()).overThreshold, true)
  t.equal((await monitor.sample()).overThreshold, true)
  t.equal(warnings(lines()).length, 1, 'one warning while the condition lasts')

  // A slot that no longer exists retains nothing.
  await dropSlotUnderWalcast(tdb)
  const sample = await monitor.sample()
  t.equal(sample.overThreshold, false)
  t.equal(sample.slot, undefined)
  t.ok(lines().some((l) => l.includes('retained WAL back under the threshold')))
})

t.test('a failed measurement is logged, never thrown from the timer', async (t) => {
  // Nothing listens on port 9 of the loopback: every query fails with ECONNREFUSED.
  const database = createDatabase({ url: 'postgres://walcast:x@127.0.0.1:9/walcast', poolSize: 1 })
  t.teardown(() => database.close())
  const { log, lines } = capturingLogger('info')
  const monitor = createWalMonitor(database.db, { slot: 'walcast', warnBytes: 1, intervalMs: 50 }, log)
  monitor.start()
  t.teardown(() => monitor.stop())
  await waitFor(() => lines().some((l) => l.includes('could not measure the replication slot')), 10_000, 'the warning')
  t.pass('logged')
})
