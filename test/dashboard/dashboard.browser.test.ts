import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { browserPage, CHROMIUM } from '../helpers/chromium.ts'
import { seedDemoData } from '../../src/catalogs/escrow/demo-seed.ts'
import { createTestDatabase } from '../helpers/db.ts'
import { startFeedService } from '../helpers/feed.ts'
import { silentLogger } from '../helpers/log.ts'
import { freePort } from '../helpers/own-server.ts'
import { waitForHistory } from '../helpers/service.ts'
import { waitFor } from '../helpers/wait.ts'

const ARTIFACTS = path.resolve('test-artifacts')

t.test('the dashboard in a real browser: sign in, live event, reconnecting…, missed events after a restart', async (t) => {
  t.ok(existsSync(CHROMIUM), `${CHROMIUM} is installed (Debian's chromium; .ci/run installs it)`)
  const tdb = await createTestDatabase(t)
  const port = String(await freePort())
  const env = { WALCAST_DEV: '1', WALCAST_PORT: port }
  let { service, url } = await startFeedService(t, tdb, env)
  await seedDemoData(service.database.db, silentLogger())
  await waitForHistory(tdb, 7)

  const page = await browserPage(t)
  const problems: string[] = []
  page.on('pageerror', (err) => problems.push(err.message))
  // A 404 is a console error too (the favicon was one).
  page.on('response', (response) => { if (response.status() === 404) problems.push(`404 ${response.url()}`) })
  await fs.mkdir(ARTIFACTS, { recursive: true })

  // Three attempts instead of ten, so "offline" with Retry comes within seconds.
  await page.goto(`${url}/?attempts=3`)
  await page.getByRole('button', { name: 'Ada Buyer' }).click()
  const connection = page.getByTestId('connection')
  await connection.getByText('connected').waitFor({ timeout: 15_000 })
  await page.locator('[data-testid="rows"] tr').nth(1).waitFor({ timeout: 10_000 })
  t.equal(await page.locator('[data-testid="rows"] tr').count(), 2, 'Ada’s two escrows')
  t.equal(await page.getByTestId('catalog').textContent(), 'escrow dashboard')
  t.equal(await page.getByTestId('rows-title').textContent(), 'Your escrows')
  t.equal(await page.getByTestId('who').textContent(), 'Ada Buyer')
  await waitFor(() => service.gateway.stats().subscriptions >= 2, 10_000, 'user:1 and user:1:escrows (all of Ada’s escrows) live')

  await tdb.query(`UPDATE escrows SET status = 'in_progress' WHERE id = 1`)
  const feed = page.getByTestId('feed')
  await feed.getByText('Escrow #1: funded → in_progress').waitFor({ timeout: 15_000 })
  await page.locator('tr[data-row="1"] .status').getByText('in_progress').waitFor({ timeout: 10_000 })
  t.pass('the escrow row follows the event')
  t.equal(await feed.locator('li').first().locator('dd').first().textContent(), '1', 'the payload as key/values (escrowId first)')
  t.equal(await feed.locator('li').first().getAttribute('class'), 'fresh', 'new items animate in')
  await tdb.query(`INSERT INTO notifications (user_id, kind, title, body) VALUES (1, 'payment', 'Funds received', 'EUR 4800')`)
  await page.getByTestId('badge').getByText('1').waitFor({ timeout: 15_000 })
  t.pass('a notification raises the badge')
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-live.png'), fullPage: true })

  await service.stop()
  await connection.getByText('reconnecting…').waitFor({ timeout: 15_000 })
  t.pass('the page shows reconnecting… while walcast is down')
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-reconnecting.png'), fullPage: true })
  await tdb.query(`INSERT INTO notifications (user_id, kind, title, body) VALUES (1, 'escrow', 'Missed while down', 'delivered after the restart')`)
  await tdb.query(`UPDATE escrows SET status = 'funded' WHERE id = 2`)
  await connection.getByText('offline').waitFor({ timeout: 30_000 })
  const retry = page.getByTestId('retry')
  t.ok(await retry.isVisible(), 'offline shows a Retry button')
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-offline.png'), fullPage: true })

  ;({ service, url } = await startFeedService(t, tdb, env))
  t.equal(await connection.textContent(), 'offline', 'no more attempts once failed, even with walcast back')
  await retry.click()
  await feed.getByText('Missed while down: delivered after the restart').waitFor({ timeout: 30_000 })
  await feed.getByText('Escrow #2: draft → funded').waitFor({ timeout: 15_000 })
  await connection.getByText('connected').waitFor({ timeout: 15_000 })
  t.notOk(await retry.isVisible(), 'Retry hidden once connected')
  t.equal(await page.getByTestId('badge').textContent(), '2', 'the missed notification counted once')
  const ids = await feed.locator('li').evaluateAll((items) => items.map((li) => (li as HTMLElement).dataset.id))
  t.equal(new Set(ids).size, ids.length, 'no event shown twice')
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true })
  t.same(problems, [], 'no script error and no 404 on the page')
})
