import t from 'tap'
import { createDatabase } from '../../src/db/database.ts'
import { checkFailover } from '../../src/doctor/failover.ts'
import { createHistoryStore } from '../../src/history/store.ts'
import { createSlotRecordingGap, dropSlot } from '../../src/replication/slot-admin.ts'
import { ensureSlot, getSlot } from '../../src/replication/slot.ts'
import { createTestDatabase } from '../helpers/db.ts'
import { hasDebianPostgres, startDebianPostgres } from '../helpers/debian-postgres.ts'

t.test('on Postgres 17+ every way walcast creates its slot makes a failover slot', async (t) => {
  const tdb = await createTestDatabase(t)
  const db = tdb.database.db
  const first = await ensureSlot(db, tdb.slot)
  t.match(first, { created: true, slot: { name: tdb.slot, plugin: 'pgoutput', failover: true, synced: false } }, 'first start')
  t.match(await ensureSlot(db, tdb.slot), { created: false, slot: { failover: true } }, 'an existing slot is taken as it is')
  await dropSlot(db, tdb.slot)
  const { slot } = await createSlotRecordingGap(db, createHistoryStore(db), tdb.slot)
  t.equal(slot.failover, true, 'walcast slot create (and a recreate)')
})

// .ci/run installs Debian's postgresql-15: a second server version, never skipped.
t.test('on Postgres 15 the slot is created without failover, and doctor says failover slots need 17', async (t) => {
  t.ok(await hasDebianPostgres(15), 'Debian\'s postgresql-15 is installed (apt-get install postgresql-15)')
  const server = await startDebianPostgres(t, 15)
  const database = createDatabase({ url: server.url, poolSize: 1 })
  t.teardown(() => database.close())
  const { slot, created } = await ensureSlot(database.db, 'walcast')
  t.ok(created)
  t.match(slot, { name: 'walcast', plugin: 'pgoutput', failover: null, synced: null }, 'no failover columns before 17')
  t.match(await getSlot(database.db, 'walcast'), { confirmedFlushLsn: BigInt }, 'a usable slot')
  const checks = await checkFailover({
    db: database.db, slot: 'walcast', publication: 'walcast', tracked: [], fullIdentity: [], retentionMs: 86_400_000, pruneIntervalMs: 60_000, walWarnBytes: 2 ** 30,
  })
  t.match(checks, [
    { id: 'failover.slot', status: 'pass', message: 'Postgres 15 has no failover slots (they came in Postgres 17)' },
    { id: 'failover.standby', status: 'pass', message: /^no physical standby streams from this server/ },
  ])
  t.equal(checks.length, 2)
})
