import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { childEnv, spawnWalcast } from '../helpers/spawn.ts'

t.test('the walcast command: help, unknown commands, bad configuration, migrate', async (t) => {
  const help = spawnWalcast(['--help'], {})
  t.equal(await help.exited, 0)
  t.match(help.stdout(), /walcast/)
  t.match(help.stdout(), /serve/)

  t.match(help.stdout(), /^while walcast serve runs: psql postgres:\/\/postgres:walcast@127\.0\.0\.1:54329\/postgres$/m,
    'the footer says where the embedded Postgres listens, on the default port')
  const otherPort = spawnWalcast(['--help'], { WALCAST_EMBEDDED_PORT: '55999' })
  t.equal(await otherPort.exited, 0)
  t.match(otherPort.stdout(), /psql postgres:\/\/postgres:walcast@127\.0\.0\.1:55999\/postgres$/m, 'and on the configured one')
  const badPort = spawnWalcast(['--help'], { WALCAST_EMBEDDED_PORT: 'eighty' })
  t.equal(await badPort.exited, 0, 'help works with a bad configuration')
  t.match(badPort.stdout(), /127\.0\.0\.1:54329\/postgres$/m)

  // A command group alone lists its subcommands: a usage error, before any configuration.
  for (const [group, list] of [['slot', 'status, create, drop'], ['publication', 'show, sync'], ['history', 'prune']] as const) {
    const bare = spawnWalcast([group], { WALCAST_PORT: 'eighty' })
    t.equal(await bare.exited, 2, `walcast ${group} is a usage error`)
    t.equal(bare.stderr(), `walcast: USAGE: walcast ${group} needs a subcommand: ${list}\nhint: run walcast --help\n`)
  }
  const mistyped = spawnWalcast(['slot', 'stauts'], {})
  t.equal(await mistyped.exited, 2)
  t.match(mistyped.stderr(), /^walcast: USAGE: unknown command "slot stauts"; walcast slot has: status, create, drop$/m)

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
