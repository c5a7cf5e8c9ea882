import t from 'tap'
import { escrowCatalog } from '../../src/catalogs/escrow/index.ts'
import { loadConfig } from '../../src/config.ts'
import { startService } from '../../src/service.ts'
import { StartupError } from '../../src/errors.ts'
import { createTestDatabase, urlForDatabase } from '../helpers/db.ts'
import { silentLogger } from '../helpers/log.ts'
import { startOwnPostgres } from '../helpers/own-server.ts'
import { childEnv, spawnWalcast } from '../helpers/spawn.ts'
import { migrate } from '../../src/db/migrate.ts'
import { ensureCatalogSchema } from '../../src/catalog/schema.ts'
import { waitFor } from '../helpers/wait.ts'

function configFor(url: string, slot = 'walcast_startup') {
  return loadConfig({ DATABASE_URL: url, WALCAST_SLOT: slot, WALCAST_LOG_LEVEL: 'silent', WALCAST_PORT: '0' })
}

t.test('wal_level is not logical', async (t) => {
  const server = await startOwnPostgres(t, ['wal_level=replica'])
  await t.rejects(startService(configFor(server.url), silentLogger()), {
    code: 'WAL_LEVEL_NOT_LOGICAL',
    message: /wal_level is replica/,
    hint: /ALTER SYSTEM SET wal_level = 'logical'/,
  })
})

t.test('the role lacks REPLICATION', async (t) => {
  const tdb = await createTestDatabase(t)
  const role = `noreplication_${tdb.slot}`
  await tdb.query(`CREATE ROLE ${role} LOGIN PASSWORD 'pw'`)
  t.teardown(() => tdb.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`).then(() => {}, () => {}))
  const url = new URL(tdb.url)
  url.username = role
  url.password = 'pw'
  const err = await startService(configFor(url.toString(), tdb.slot), silentLogger()).catch((e: unknown) => e)
  t.type(err, StartupError)
  t.match(err, { code: 'ROLE_LACKS_REPLICATION', hint: new RegExp(`ALTER ROLE "${role}" WITH REPLICATION`) })
})

t.test('the publication lacks a tracked table', async (t) => {
  const tdb = await createTestDatabase(t, { prepared: false })
  await migrate(tdb.database.db)
  await ensureCatalogSchema(tdb.database.db, escrowCatalog)
  await tdb.query('CREATE PUBLICATION walcast FOR TABLE public.escrows, public.milestones')
  await t.rejects(startService(tdb.config(), silentLogger()), {
    code: 'PUBLICATION_INCOMPLETE',
    message: /lacks tracked table\(s\) public\.disputes, public\.escrow_parties, public\.notifications/,
    hint: /ALTER PUBLICATION "walcast" ADD TABLE "public"\."disputes", "public"\."escrow_parties", "public"\."notifications"/,
  })
})

t.test('a missing publication is created with exactly the tracked tables', async (t) => {
  const tdb = await createTestDatabase(t, { prepared: false })
  const service = await startService(tdb.config(), silentLogger())
  // Stopped here, not in a teardown: the test database's own teardown drops the database.
  try {
    await waitFor(() => service.ingest.status().state === 'streaming', 30_000, 'ingest streaming')
  } finally {
    await service.stop()
  }
  const tables = await tdb.query<{ t: string }>(`SELECT schemaname || '.' || tablename AS t FROM pg_publication_tables WHERE pubname = 'walcast' ORDER BY 1`)
  t.same(tables.rows.map((r) => r.t), ['public.disputes', 'public.escrow_parties', 'public.escrows', 'public.milestones', 'public.notifications'])
})

t.test('the database is unreachable', async (t) => {
  await t.rejects(startService(configFor('postgres://postgres:x@127.0.0.1:1/postgres'), silentLogger()), {
    code: 'DB_UNREACHABLE',
    hint: /check DATABASE_URL/,
  })
  await t.rejects(startService(configFor(urlForDatabase('no_such_database_here')), silentLogger()), { code: 'DB_UNREACHABLE' })
})

t.test('the CLI reports a start-up error as one line with a hint and exits non-zero', async (t) => {
  const tdb = await createTestDatabase(t)
  const child = spawnWalcast(['serve'], childEnv(tdb, { DATABASE_URL: 'postgres://postgres:secret-password@127.0.0.1:1/postgres' }))
  t.equal(await child.exited, 1)
  t.match(child.stderr(), /^walcast: DB_UNREACHABLE: cannot connect to Postgres at postgres:\/\/postgres:redacted@127\.0\.0\.1:1\/postgres: .*\nhint: check DATABASE_URL/)
  t.notMatch(child.stderr() + child.stdout(), /secret-password/, 'the password never reaches the output')
})

t.test('an invalid setting stops start-up with a message naming the variable', async (t) => {
  const tdb = await createTestDatabase(t)
  const child = spawnWalcast(['serve'], childEnv(tdb, { WALCAST_RETENTION: 'a week' }))
  t.equal(await child.exited, 1)
  t.match(child.stderr(), /walcast: CONFIG_INVALID: WALCAST_RETENTION: expected a duration/)
  t.match(child.stderr(), /hint: fix or unset WALCAST_RETENTION/)
})
