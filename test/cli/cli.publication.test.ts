import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { cliEnv, runCli } from '../helpers/cli.ts'

// Apart from the history and migrate commands (cli.publication-history.test.ts): each CLI
// call compiles the sources through the test's loader, and one file of all of them came
// near tap's 300 s per-file limit on a loaded CI host.

t.test('publication show and sync bring the publication to exactly the tracked tables', async (t) => {
  const tdb = await createTestDatabase(t)
  const env = cliEnv(tdb)
  const tracked = ['public.disputes', 'public.escrow_parties', 'public.escrows', 'public.milestones', 'public.notifications']

  const complete = await runCli(['publication', 'show', '--json'], env)
  t.equal(complete.code, 0, complete.stderr)
  t.match(JSON.parse(complete.stdout), { publication: 'walcast', exists: true, tables: tracked, missing: [], extra: [], inSync: true })
  const completeHuman = await runCli(['publication', 'show'], env)
  t.match(completeHuman.stdout, /^in sync: it publishes exactly the tracked tables$/m, 'a publication in step says so')

  await tdb.query('CREATE TABLE public.audit_log (id bigserial PRIMARY KEY)')
  await tdb.query('ALTER PUBLICATION walcast DROP TABLE public.notifications')
  await tdb.query('ALTER PUBLICATION walcast ADD TABLE public.audit_log')
  const drifted = await runCli(['publication', 'show'], env)
  t.equal(drifted.code, 0)
  t.match(drifted.stdout, /^ {2}public\.audit_log {2}\(not tracked: walcast ignores it\)$/m)
  t.match(drifted.stdout, /^ {2}public\.notifications {2}\(MISSING: tracked but not published; walcast publication sync adds it\)$/m)
  t.match(drifted.stdout, /^NOT in sync: 1 missing, 1 not tracked; walcast publication sync fixes it$/m)
  const driftedJson = await runCli(['publication', 'show', '--json'], env)
  t.match(JSON.parse(driftedJson.stdout), { missing: ['public.notifications'], extra: ['public.audit_log'], inSync: false })

  const synced = await runCli(['publication', 'sync'], env)
  t.equal(synced.code, 0, synced.stderr)
  t.equal(synced.stdout, 'added public.notifications to publication walcast\nremoved public.audit_log from publication walcast\n')
  const again = await runCli(['publication', 'sync', '--json'], env)
  t.same(JSON.parse(again.stdout), { publication: 'walcast', created: false, added: [], removed: [] })
  const human = await runCli(['publication', 'sync'], env)
  t.equal(human.stdout, 'publication walcast already carries exactly the tracked tables\n')

  await tdb.query('DROP PUBLICATION walcast')
  const absent = await runCli(['publication', 'show'], env)
  t.match(absent.stdout, /^publication walcast does not exist/)
  const created = await runCli(['publication', 'sync'], env)
  t.equal(created.stdout, `created publication walcast for ${tracked.join(', ')}\n`)
  const rows = await tdb.query<{ t: string }>(`SELECT schemaname || '.' || tablename AS t FROM pg_publication_tables WHERE pubname = 'walcast' ORDER BY 1`)
  t.same(rows.rows.map((r) => r.t), tracked)
})
