import t from 'tap'
import { seedDemoData } from '../../src/catalogs/escrow/demo-seed.ts'
import { escrowCatalog } from '../../src/catalogs/escrow/index.ts'
import { startDemoWriter } from '../../src/demo/writer.ts'
import { createTestDatabase } from '../helpers/db.ts'
import { silentLogger } from '../helpers/log.ts'
import { historyRows, startTestService } from '../helpers/service.ts'
import { waitFor } from '../helpers/wait.ts'

const EXPECTED_TYPES = [
  'escrow:dispute_filed', 'escrow:dispute_resolved', 'escrow:milestone_released', 'escrow:party_joined',
  'escrow:status_changed', 'notification:new',
]

t.test('the demo writer walks an escrow through its lifecycle, one step at a time', async (t) => {
  const tdb = await createTestDatabase(t)
  await startTestService(t, tdb)
  await seedDemoData(tdb.database.db, silentLogger())
  const writer = startDemoWriter(tdb.database.db, silentLogger(), 0, escrowCatalog.demo!)
  const steps: string[] = []
  for (let i = 0; i < 9; i++) steps.push(await writer.step())
  await writer.stop()
  t.equal(await writer.step(), 'stopped', 'a stopped writer writes nothing')
  t.match(steps[0], /^escrow (\d+) created$/)
  t.match(steps[7], /: completed$/)
  t.match(steps[8], /^escrow \d+ created$/, 'after completion the next escrow starts')
  const rows = await waitFor(async () => {
    const all = await historyRows(tdb)
    return all.some((r) => r.type === 'escrow:status_changed' && r.payload.to === 'completed') ? all : undefined
  }, 20_000, 'the completed escrow')
  t.same([...new Set(rows.map((r) => r.type))].sort(), EXPECTED_TYPES, 'every kind of event the dashboard shows')
  const escrowId = /^escrow (\d+)/.exec(steps[0]!)![1]
  const statuses = rows.filter((r) => r.type === 'escrow:status_changed' && r.payload.escrowId === escrowId).map((r) => r.payload.to)
  t.same(statuses, ['draft', 'funded', 'in_progress', 'disputed', 'in_progress', 'completed'])
})

t.test('on a timer it keeps writing until stopped', async (t) => {
  const tdb = await createTestDatabase(t)
  await seedDemoData(tdb.database.db, silentLogger())
  const writer = startDemoWriter(tdb.database.db, silentLogger(), 20, escrowCatalog.demo!)
  await waitFor(async () => (await tdb.query<{ n: number }>('SELECT count(*)::int AS n FROM escrows')).rows[0]!.n > 2, 10_000, 'an escrow')
  await writer.stop()
  const { n } = (await tdb.query<{ n: number }>('SELECT count(*)::int AS n FROM escrow_parties')).rows[0]!
  t.ok(n >= 5, 'the seeded parties are there')
})
