import t from 'tap'
import type { Catalog } from '../../src/catalog/catalog.ts'
import { loadCatalog } from '../../src/catalog/loader.ts'
import { ensureCatalogSchema } from '../../src/catalog/schema.ts'
import { checkCatalogAgainstDatabase } from '../../src/catalog/validate.ts'
import { migrate } from '../../src/db/migrate.ts'
import { createTestDatabase } from '../helpers/db.ts'
import projects from '../fixtures/catalog-projects.ts'

const base = projects as unknown as Catalog
const withRule = (source: string, rule: unknown): Catalog => ({ ...base, access: { ...base.access, [source]: rule } }) as Catalog

t.test('I14: what only the database can say is checked against it', async (t) => {
  const tdb = await createTestDatabase(t, { prepared: false })
  await migrate(tdb.database.db)
  t.equal(await ensureCatalogSchema(tdb.database.db, base), 'applied')
  t.equal(await ensureCatalogSchema(tdb.database.db, base), 'present', 'once: then its tables are left alone')
  await checkCatalogAgainstDatabase(tdb.database.db, base)
  t.pass('the fixture catalog matches its tables')
  const refused: [string, Catalog, RegExp][] = [
    ['an access rule on a missing table', withRule('owner:{id}', { kind: 'owner', table: 'app.owners', key: 'id', owners: ['owner_id'] }),
      /^catalog projects: access rule owner:\{id\}: table app\.owners does not exist in this database$/],
    ['an access rule on a missing column', withRule('owner:{id}', { kind: 'owner', table: 'app.projects', key: 'id', owners: ['owner'] }),
      /^catalog projects: access rule owner:\{id\}: table app\.projects has no column owner$/],
    ['a key column the topic id cannot be compared with', withRule('owner:{id}', { kind: 'owner', table: 'app.projects', key: 'name', owners: ['owner_id'] }),
      /^catalog projects: access rule owner:\{id\}: column app\.projects\.name is text, which the topic id \(bigint\) cannot be compared with$/],
    ['a user column of another shape', { ...withRule('owner:{id}', { kind: 'owner', table: 'app.projects', key: 'id', owners: ['owner_id'] }), userId: 'uuid' } as Catalog,
      /^catalog projects: access rule project:\{id\}: column app\.project_members\.user_id is bigint, which the user id \(uuid\) cannot be compared with$/],
  ]
  for (const [what, catalog, message] of refused) {
    await t.rejects(checkCatalogAgainstDatabase(tdb.database.db, catalog), { code: 'CATALOG_INVALID', message, hint: /\S/ }, what)
  }
  const broken = { ...base, tables: [{ ...base.tables[0]!, table: 'app.fresh' }], schema: new URL('data:,') }
  await t.rejects(ensureCatalogSchema(tdb.database.db, { ...broken, schema: new URL('../fixtures/catalog-broken.sql', import.meta.url) }), {
    code: 'MIGRATION_FAILED', message: /^catalog projects: its schema .*catalog-broken\.sql failed: /,
  }, 'a schema file that fails says which')
  t.equal(await ensureCatalogSchema(tdb.database.db, { ...broken, schema: undefined }), 'none', 'no schema: the check that follows names the missing table')
})

t.test('I14: a module that cannot be a catalog is refused by the loader', async (t) => {
  const at = (file: string) => ({ kind: 'module' as const, path: new URL(`../fixtures/${file}`, import.meta.url).pathname })
  await t.rejects(loadCatalog(at('catalog-throws.ts')), { code: 'CATALOG_INVALID', message: /catalog-throws\.ts: the module failed to load: projects catalog: cannot read settings$/ })
  await t.rejects(loadCatalog(at('catalog-no-export.ts')), { code: 'CATALOG_INVALID', message: /catalog-no-export\.ts: the module exports no catalog$/ })
  t.equal((await loadCatalog(at('catalog-projects.ts'))).name, 'projects')
  t.equal((await loadCatalog({ kind: 'builtin', name: 'escrow' })).name, 'escrow')
})
