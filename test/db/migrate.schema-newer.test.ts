import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { listMigrations, migrate } from '../../src/db/migrate.ts'

// An older walcast must not run on a schema a newer one migrated (after sql/007 it would
// serve the earlier events with a null `data`): it refuses to start with SCHEMA_NEWER.
t.test('a schema migrated by a newer walcast is refused; files retired long ago are not', async (t) => {
  const tdb = await createTestDatabase(t)
  const known = await listMigrations()

  // A name this walcast never had, before its newest file: a retired one (002 once held
  // the escrow demo's tables). Nothing newer: migrate goes on as before.
  await tdb.query(`INSERT INTO walcast.migrations (name) VALUES ('002_escrow_domain.sql')`)
  const again = await migrate(tdb.database.db)
  t.same(again.applied, [], 'nothing left to apply')
  t.same(again.skipped, known, 'every file of this walcast already applied')

  await tdb.query(`INSERT INTO walcast.migrations (name) VALUES ('998_walcast_future.sql'), ('999_walcast_later.sql')`)
  await t.rejects(migrate(tdb.database.db), {
    code: 'SCHEMA_NEWER',
    message: "the database's walcast schema is newer than this walcast: 998_walcast_future.sql, 999_walcast_later.sql applied, not known here",
    hint: /run the walcast version that applied them/,
  })
  // The advisory lock was released on the way out: another start is refused the same way
  // instead of waiting for it.
  await t.rejects(migrate(tdb.database.db), { code: 'SCHEMA_NEWER' })
})
