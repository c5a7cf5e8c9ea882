import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { cliEnv, runCli } from '../helpers/cli.ts'

// A real `walcast serve` on a real database, one per mistake: one error line naming it
// (and its hint), a non-zero exit, no stack trace, nothing served.
const CASES = [
  ['an unknown table', 'test/fixtures/catalog-unknown-table.ts',
    'walcast: CATALOG_INVALID: catalog projects-unknown-table: tracked table app.taskz does not exist in this database'],
  ['a payload column not in its table', 'test/fixtures/catalog-bad-column.ts',
    'walcast: CATALOG_INVALID: catalog projects-bad-column: table app.tasks has no column titel (in its payload allowlist)'],
  ['a topic with no access rule', 'test/fixtures/catalog-no-access-rule.ts',
    'walcast: CATALOG_INVALID: catalog projects-no-access-rule: event task.created is published to topic team:{id}, which has no access rule'],
  ['a module path that does not exist', 'test/fixtures/catalog-missing.ts',
    `walcast: CATALOG_INVALID: catalog ${process.cwd()}/test/fixtures/catalog-missing.ts: no such file`],
] as const

t.test('I14: a wrong catalog is refused at start-up with one line naming the mistake', async (t) => {
  const tdb = await createTestDatabase(t, { prepared: false })
  for (const [what, path, line] of CASES) {
    t.test(what, async (t) => {
      const result = await runCli(['serve'], cliEnv(tdb, { WALCAST_CATALOG: path, WALCAST_PORT: '0' }))
      t.equal(result.code, 1, 'a non-zero exit')
      const lines = result.stderr.trimEnd().split('\n')
      t.equal(lines[0], line)
      t.match(lines.slice(1), [/^hint: \S/], 'then only its hint')
      t.notMatch(result.stderr, /\n\s+at /, 'no stack trace')
      t.notMatch(result.stdout, /walcast running/, 'nothing was served')
    })
  }
  t.test('an unknown built-in name is a configuration error naming the built-ins', async (t) => {
    const result = await runCli(['serve'], cliEnv(tdb, { WALCAST_CATALOG: 'escrw' }))
    t.equal(result.code, 1)
    t.match(result.stderr, /^walcast: CONFIG_INVALID: WALCAST_CATALOG: no built-in catalog is named "escrw"; expected one of escrow, payment-streams, approvals, marketplace, or the path of a catalog module/)
  })
})
