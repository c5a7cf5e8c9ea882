import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { childEnv, spawnWalcast } from '../helpers/spawn.ts'

t.test('walcast --help, an unknown command, a bad setting, migrate --json', async (t) => {
  const help = spawnWalcast(['--help'], {})
  t.equal(await help.exited, 0)
  t.match(help.stdout(), /Commands:[\s\S]*demo/, 'the help lists the demo command')

  const unknown = spawnWalcast(['fly'], { DATABASE_URL: 'postgres://127.0.0.1:9/x' })
  t.equal(await unknown.exited, 2)
  t.match(unknown.stderr(), /unknown command "fly"[\s\S]*hint: run walcast --help/)

  const bad = spawnWalcast(['serve'], { WALCAST_PORT: 'eighty' })
  t.equal(await bad.exited, 1)
  t.match(bad.stderr(), /CONFIG_INVALID: WALCAST_PORT[\s\S]*hint:/, 'one line naming the variable, and a hint')

  const tdb = await createTestDatabase(t)
  const migrate = spawnWalcast(['migrate', '--json'], childEnv(tdb))
  t.equal(await migrate.exited, 0)
  t.same(JSON.parse(migrate.stdout()).applied, [], 'an up-to-date schema applies nothing')
  const plain = spawnWalcast(['migrate'], childEnv(tdb))
  t.equal(await plain.exited, 0)
  t.match(plain.stdout(), /schema is up to date/)
})
