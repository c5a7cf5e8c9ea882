import t from 'tap'
import { seedDemoData } from '../../src/catalogs/escrow/demo-seed.ts'
import { DEMO_ESCROWS_KEPT, DEMO_NOTIFICATIONS_KEPT, escrowDemoScript } from '../../src/catalogs/escrow/demo-script.ts'
import { createTestDatabase } from '../helpers/db.ts'
import { silentLogger } from '../helpers/log.ts'

t.test('a demo escrow mid-flow at a restart carries on where it stood', async (t) => {
  const tdb = await createTestDatabase(t)
  const db = tdb.database.db
  await seedDemoData(db, silentLogger())
  const before = escrowDemoScript()
  const steps = [await before(db), await before(db), await before(db)]
  const id = /^escrow (\d+) created$/.exec(steps[0]!)![1]
  t.same(steps.slice(1), [`escrow ${id}: parties joined`, `escrow ${id}: funded`])
  // A new process: a fresh script, nothing in memory.
  const after = escrowDemoScript()
  const rest: string[] = []
  for (let i = 0; i < 5; i++) rest.push(await after(db))
  t.same(rest, ['in progress', 'milestone released', 'dispute filed', 'dispute resolved', 'completed'].map((s) => `escrow ${id}: ${s}`), 'the same escrow, the next step, to completion')
  t.match(await after(db), /^escrow \d+ created$/, 'then a new one')
  const stuck = await tdb.query<{ n: number }>(`SELECT count(*)::int AS n FROM escrows WHERE terms = 'Demo terms' AND status <> 'completed'`)
  t.equal(stuck.rows[0]!.n, 1, 'no demo escrow is left mid-flow: only the one being written')
})

t.test('a demo left running keeps its data bounded: old completed escrows and notifications are deleted', async (t) => {
  const tdb = await createTestDatabase(t)
  const db = tdb.database.db
  await seedDemoData(db, silentLogger())
  const step = escrowDemoScript()
  const cycles = DEMO_ESCROWS_KEPT + 6
  for (let i = 0; i < cycles * 8; i++) await step(db)
  const demo = await tdb.query<{ n: number; completed: number }>(`SELECT count(*)::int AS n, count(*) FILTER (WHERE status = 'completed')::int AS completed FROM escrows WHERE terms = 'Demo terms'`)
  t.ok(demo.rows[0]!.n <= DEMO_ESCROWS_KEPT + 1, `at most ${DEMO_ESCROWS_KEPT} completed demo escrows and the current one (${demo.rows[0]!.n} after ${cycles} escrows)`)
  t.ok(demo.rows[0]!.completed >= DEMO_ESCROWS_KEPT - 1, 'the newest completed ones are kept')
  const seeded = await tdb.query<{ n: number }>(`SELECT count(*)::int AS n FROM escrows WHERE id IN (1, 2)`)
  t.equal(seeded.rows[0]!.n, 2, 'seeded escrows are never touched')
  const notes = await tdb.query<{ n: number }>(`SELECT count(*)::int AS n FROM notifications`)
  // Pruned when an escrow starts; one escrow’s life writes 5 more.
  t.ok(notes.rows[0]!.n <= DEMO_NOTIFICATIONS_KEPT + 5, `notifications bounded (${notes.rows[0]!.n} after ${cycles * 5})`)
  const parties = await tdb.query<{ n: number }>(`SELECT count(*)::int AS n FROM escrow_parties WHERE user_id = 1`)
  t.ok(parties.rows[0]!.n <= DEMO_ESCROWS_KEPT + 3, 'the demo user is a party of a bounded number of escrows')
})
