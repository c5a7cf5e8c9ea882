import pg from 'pg'
import t from 'tap'
import { startOwnPostgres } from '../helpers/own-server.ts'
import { urlForDatabase } from '../helpers/db.ts'
import { capturingLogger, silentLogger } from '../helpers/log.ts'
import { waitFor } from '../helpers/wait.ts'
import { loadConfig } from '../../src/config.ts'
import { createDatabase } from '../../src/db/database.ts'
import { migrate } from '../../src/db/migrate.ts'
import { ensureCatalogSchema } from '../../src/catalog/schema.ts'
import { escrowCatalog } from '../../src/catalogs/escrow/index.ts'
import { createCatalogRegistry } from '../../src/catalog/registry.ts'
import { checkSlot } from '../../src/doctor/slot.ts'
import type { DoctorContext } from '../../src/doctor/check.ts'
import { ensurePublication } from '../../src/replication/publication.ts'
import { startService } from '../../src/service.ts'
import { STREAMING_WAIT_MS } from '../helpers/service.ts'

t.test('a slot Postgres invalidated (wal_status = lost): doctor fails it, walcast stops without WALCAST_SLOT_RECREATE and replaces it with a gap with it', async (t) => {
  // A tiny max_slot_wal_keep_size makes Postgres invalidate an idle slot after a few segments.
  const server = await startOwnPostgres(t, ['wal_level=logical', 'max_slot_wal_keep_size=1MB', 'max_wal_size=32MB'])
  const admin = new pg.Client({ connectionString: server.url })
  await admin.connect()
  t.teardown(() => admin.end())
  await admin.query('CREATE DATABASE app')
  const url = urlForDatabase('app', server.url)
  const database = createDatabase({ url, poolSize: 2 })
  t.teardown(() => database.close())
  const registry = createCatalogRegistry(escrowCatalog)
  await migrate(database.db)
  await ensureCatalogSchema(database.db, escrowCatalog)
  await ensurePublication(database.db, 'walcast', registry.tables, silentLogger())
  const app = new pg.Client({ connectionString: url })
  await app.connect()
  t.teardown(() => app.end())
  const config = (env: Record<string, string> = {}) => loadConfig({
    DATABASE_URL: url, WALCAST_LOG_LEVEL: 'silent', WALCAST_PORT: '0', WALCAST_HEARTBEAT: '1h',
    WALCAST_TAKEOVER_RETRY: '300ms', WALCAST_STATUS_INTERVAL: '1s', ...env,
  })
  const events = async () => (await app.query<{ n: number }>('SELECT count(*)::int AS n FROM walcast.events')).rows[0]!.n
  const ctx = (walWarnBytes = 2 ** 30): DoctorContext => ({
    db: database.db, slot: 'walcast', publication: 'walcast', tracked: registry.tables, fullIdentity: registry.fullIdentityTables,
    retentionMs: 86_400_000, pruneIntervalMs: 60_000, walWarnBytes,
  })

  const first = await startService(config(), silentLogger())
  await waitFor(() => first.ingest.status().state === 'streaming', STREAMING_WAIT_MS, 'streaming')
  await app.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (1, 'T', 1, 'USD')`)
  await waitFor(async () => (await events()) === 1, 15_000, 'first event')
  await first.stop()

  await app.query('CREATE TABLE junk (id serial, body text)')
  await waitFor(async () => {
    for (let i = 0; i < 4; i++) {
      await app.query(`INSERT INTO junk (body) SELECT md5(g::text) FROM generate_series(1, 2000) g`)
      await app.query('SELECT pg_switch_wal()')
    }
    await app.query('CHECKPOINT')
    const slot = await app.query<{ wal_status: string }>(`SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'walcast'`)
    return slot.rows[0]?.wal_status === 'lost'
  }, 60_000, 'the slot to be invalidated')

  const lost = await checkSlot(ctx())
  t.match(lost.find((c) => c.id === 'slot.wal_status'), { status: 'fail', message: /^wal_status = lost/, fix: /WALCAST_SLOT_RECREATE=true/ })

  const second = await startService(config(), silentLogger())
  await t.rejects(second.ingest.done, { code: 'SLOT_INVALID', message: /wal_status = lost/, hint: /WALCAST_SLOT_RECREATE=true/ }, 'stops with SLOT_INVALID')
  await second.stop()

  const { log, lines } = capturingLogger('info')
  const third = await startService(config({ WALCAST_SLOT_RECREATE: 'true' }), log)
  t.teardown(() => third.stop())
  await waitFor(() => third.ingest.status().state === 'streaming', STREAMING_WAIT_MS, 'streaming on a new slot')
  const gaps = await app.query<{ reason: string }>('SELECT reason FROM walcast.gaps')
  t.same(gaps.rows.map((r) => r.reason), ['slot_recreated'], 'the gap is recorded')
  t.ok(lines().some((l) => l.includes('"level":"error"') && l.includes('wal_status = lost')), 'an error log says what happened')
  await app.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (2, 'U', 1, 'USD')`)
  await waitFor(async () => (await events()) === 2, 15_000, 'events flow again')

  const healthy = await checkSlot(ctx(1))
  t.match(healthy.find((c) => c.id === 'slot.wal_status'), { status: 'pass', message: 'wal_status = reserved' })
  t.match(healthy.find((c) => c.id === 'slot.lag'), { status: 'warn', message: /above WALCAST_WAL_WARN_BYTES \(1 B\)/, fix: /when-lag-grows/ })

  await app.query(`SELECT pg_create_physical_replication_slot('phys', true)`)
  const physical = await checkSlot({ ...ctx(), slot: 'phys' })
  t.match(physical, [{ id: 'slot.exists', status: 'fail', message: 'replication slot phys belongs to plugin none on database none', fix: /another WALCAST_SLOT/ }])
  await app.query(`SELECT pg_drop_replication_slot('phys')`)
})
