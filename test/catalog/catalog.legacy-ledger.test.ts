import t from 'tap'
import { cliEnv, runCli } from '../helpers/cli.ts'
import { createTestDatabase } from '../helpers/db.ts'
import { startTestService, waitForHistory } from '../helpers/service.ts'

t.test('a database migrated before catalogs (its ledger lists 002_escrow_domain.sql) migrates and serves as before', async (t) => {
  const tdb = await createTestDatabase(t)
  await tdb.query(`INSERT INTO walcast.migrations (name) VALUES ('002_escrow_domain.sql')`)
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'Kept')`)
  const again = await runCli(['migrate'], cliEnv(tdb))
  t.equal(again.code, 0, again.stderr)
  t.equal(again.stdout, 'schema is up to date\n')
  const kept = await tdb.query<{ n: number }>('SELECT count(*)::int AS n FROM users')
  t.equal(kept.rows[0]!.n, 1, 'nothing of the application\'s data is touched')
  await startTestService(t, tdb)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (1, 'Old', 1, 'EUR')`)
  const [event] = await waitForHistory(tdb, 1)
  t.same([event!.type, event!.topics, event!.payload], ['escrow:status_changed', ['escrow:1'], { escrowId: '1', from: null, to: 'draft' }], 'and serves its escrow events as before')
})
