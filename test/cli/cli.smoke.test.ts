import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { childEnv, spawnWalcast } from '../helpers/spawn.ts'

t.test('the walcast command: help, unknown commands, bad configuration, migrate', async (t) => {
  const help = spawnWalcast(['--help'], {})
  t.equal(await help.exited, 0)
  t.match(help.stdout(), /walcast/)
  t.match(help.stdout(), /serve/)

  const unknown = spawnWalcast(['frobnicate'], {})
  t.equal(await unknown.exited, 2, 'an unknown command is a usage error')
  t.match(unknown.stderr(), /frobnicate/)

  const badConfig = spawnWalcast(['serve'], { WALCAST_PORT: 'eighty', DATABASE_URL: 'postgres://127.0.0.1/x' })
  t.equal(await badConfig.exited, 1)
  t.match(badConfig.stderr(), /CONFIG_INVALID/)
  t.match(badConfig.stderr(), /WALCAST_PORT/)
  t.notMatch(badConfig.stderr(), /\n\s+at /, 'a known failure prints no stack trace')

  const tdb = await createTestDatabase(t)
  const migrate = spawnWalcast(['migrate', '--json'], childEnv(tdb))
  t.equal(await migrate.exited, 0)
  t.same(JSON.parse(migrate.stdout().trim().split('\n').at(-1)!).applied, [], 'an up-to-date schema: nothing applied')
  const plain = spawnWalcast(['migrate'], childEnv(tdb))
  t.equal(await plain.exited, 0)
  t.match(plain.stdout(), /up to date/)
})
