import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { capturingLogger, silentLogger } from '../helpers/log.ts'
import { createSlot, getSlot } from '../../src/replication/slot.ts'
import { seedAfterSlot } from '../../src/demo/seed.ts'
import { loadConfig } from '../../src/config.ts'
import { startService } from '../../src/service.ts'
import { freePort } from '../helpers/own-server.ts'
import { sleep, waitFor } from '../helpers/wait.ts'
import { DEMO_ASSETS, DEMO_LEVELS } from '../../src/catalogs/trading/demo-seed.ts'

t.test('the demo is seeded only once the ingest\'s slot exists, so the seed\'s changes are streamed into the history', async (t) => {
  const tdb = await createTestDatabase(t)
  const db = tdb.database.db
  const slotWhenSeeded: boolean[] = []
  const seeding = seedAfterSlot(db, tdb.slot, { seed: async (seedDb) => { slotWhenSeeded.push((await getSlot(seedDb, tdb.slot)) !== undefined) } }, silentLogger(), 30_000, 20)
  await sleep(300)
  t.same(slotWhenSeeded, [], 'no slot yet: no seed')
  await createSlot(db, tdb.slot)
  await seeding
  t.same(slotWhenSeeded, [true], 'seeded once, with the slot there')

  const capture = capturingLogger('info')
  const late: string[] = []
  await seedAfterSlot(db, 'never_made', { seed: async () => { late.push('seeded') } }, capture.log, 100, 20)
  t.same(late, ['seeded'], 'a slot that never appears: the demo is seeded all the same')
  t.ok(capture.lines().some((l) => l.includes('did not appear in time')), 'and the log says its changes will not be in the history')
})

// The trading demo's seed writes each asset's book in one transaction of 2 x DEMO_LEVELS
// levels; the demo writer never changes more than 25 in one. Such a transaction in the
// history is the seed, streamed.
t.test('the embedded trading demo: the seed\'s book is in the history, so a fresh subscriber gets every level (I17)', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'walcast-demo-seed-'))
  fs.chmodSync(dir, 0o755)
  const config = loadConfig({ WALCAST_DATA_DIR: path.join(dir, 'pgdata'), WALCAST_EMBEDDED_PORT: String(await freePort()), WALCAST_PORT: '0', WALCAST_LOG_LEVEL: 'silent', WALCAST_CATALOG: 'trading' }, dir)
  const service = await startService(config, silentLogger())
  t.teardown(async () => {
    await service.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  })
  const seeded = await waitFor(async () => {
    const rows = await service.database.pool.query<{ asset: string }>(`
      SELECT payload ->> 'asset' AS asset FROM walcast.events WHERE type = 'book:level'
      GROUP BY commit_lsn, payload ->> 'asset' HAVING count(*) = ${2 * DEMO_LEVELS} ORDER BY 1`)
    return rows.rows.length === DEMO_ASSETS.length ? rows.rows.map((r) => r.asset) : undefined
  }, 30_000, 'the seed\'s books in the history')
  t.same(seeded, DEMO_ASSETS.map((a) => a.symbol).sort(), 'each asset\'s seeded book was streamed')
  const state = await service.database.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM walcast.latest_per_key WHERE topic = 'orderbook:BTC-USD'`)
  t.equal(state.rows[0]!.n, 2 * DEMO_LEVELS, 'the book\'s state holds every seeded level')
})
