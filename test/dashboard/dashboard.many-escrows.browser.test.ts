import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { browserPage, CHROMIUM } from '../helpers/chromium.ts'
import { seedDemoData } from '../../src/catalogs/escrow/demo-seed.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts'
import { startFeedService } from '../helpers/feed.ts'
import { silentLogger } from '../helpers/log.ts'
import { freePort } from '../helpers/own-server.ts'
import { waitForHistory } from '../helpers/service.ts'
import { waitFor } from '../helpers/wait.ts'

const ARTIFACTS = path.resolve('test-artifacts')

/** Ada (user 1) a party of 2 + `more` escrows: past the WebSocket's 100 subscriptions. */
async function seedMany(tdb: TestDatabase, db: Parameters<typeof seedDemoData>[0], more: number): Promise<void> {
  await seedDemoData(db, silentLogger())
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency, status) SELECT 2 + i, 'Bulk ' || i, 10, 'EUR', 'draft' FROM generate_series(1, $1::int) AS i`, [more])
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role, accepted_at) SELECT 2 + i, 1, 'buyer', now() FROM generate_series(1, $1::int) AS i`, [more])
  await tdb.query(`SELECT setval(pg_get_serial_sequence('public.escrows', 'id'), 2 + $1::int)`, [more])
}

t.test('the dashboard with 130 escrows stays live in Chromium: one follow set, the newest escrows flow, the pill is green only when every topic is live', async (t) => {
  t.ok(existsSync(CHROMIUM), `${CHROMIUM} is installed`)
  const tdb = await createTestDatabase(t)
  const env = { WALCAST_DEV: '1', WALCAST_PORT: String(await freePort()) }
  const { service, url } = await startFeedService(t, tdb, env)
  await seedMany(tdb, service.database.db, 130)
  await waitForHistory(tdb, 7 + 2 * 130)
  const page = await browserPage(t)
  const problems: string[] = []
  page.on('pageerror', (err) => problems.push(err.message))

  await page.goto(url)
  await page.getByRole('button', { name: 'Ada Buyer' }).click()
  const connection = page.getByTestId('connection')
  await connection.getByText('connected').waitFor({ timeout: 15_000 })
  await page.locator('tr[data-row="132"]').waitFor({ timeout: 10_000 })
  t.equal(await page.locator('[data-testid="rows"] tr').count(), 50, 'the latest 50 of 132 rows')
  t.match(await page.getByTestId('shown').textContent(), /latest 50/)
  await waitFor(() => service.gateway.stats().subscriptions === 2, 10_000, 'two subscriptions')
  t.equal(service.gateway.stats().subscriptions, 2, 'user:1 and user:1:escrows, not one per escrow')

  // The newest escrows are the active ones: past the old limit they went quiet.
  await tdb.query(`UPDATE escrows SET status = 'funded' WHERE id = 132`)
  const feed = page.getByTestId('feed')
  await feed.getByText('Escrow #132: draft → funded').waitFor({ timeout: 15_000 })
  await page.locator('tr[data-row="132"] .status').getByText('funded').waitFor({ timeout: 10_000 })
  t.pass('an event of the 132nd escrow arrives live')

  // A new escrow joins the set live, its first events included.
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency, status) VALUES (133, 'Fresh', 5, 'EUR', 'draft')`)
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role, accepted_at) VALUES (133, 1, 'seller', now())`)
  await feed.getByText('Escrow #133: user 1 joined as seller').waitFor({ timeout: 15_000 })
  await tdb.query(`UPDATE escrows SET status = 'in_progress' WHERE id = 133`)
  await feed.getByText('Escrow #133: draft → in_progress').waitFor({ timeout: 15_000 })
  await page.locator('tr[data-row="133"] .status').getByText('in_progress').waitFor({ timeout: 10_000 })
  t.equal(await connection.getAttribute('data-state'), 'open', 'green, and rightly so')
  t.equal(await page.getByTestId('topics').getAttribute('data-refused'), '0')
  await fs.mkdir(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-many-escrows.png'), fullPage: true })
  t.same(problems, [], 'no script error')
})

t.test('a topic the server refuses turns the pill from green to "partly live", naming the topic and why', async (t) => {
  const tdb = await createTestDatabase(t)
  const env = { WALCAST_DEV: '1', WALCAST_PORT: String(await freePort()), WALCAST_WS_MAX_SUBSCRIPTIONS: '1' }
  const { service, url } = await startFeedService(t, tdb, env)
  await seedDemoData(service.database.db, silentLogger())
  await waitForHistory(tdb, 7)
  const page = await browserPage(t)
  await page.goto(url)
  await page.getByRole('button', { name: 'Ada Buyer' }).click()
  const connection = page.getByTestId('connection')
  await page.locator('[data-testid="connection"][data-state="degraded"]').waitFor({ timeout: 15_000 })
  t.equal(await connection.textContent(), 'partly live · 1 topic refused')
  t.match(await page.getByTestId('topics').textContent(), /Not live: user:1:escrows \(too_many_subscriptions/)
  await fs.mkdir(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-refused.png'), fullPage: true })
})
