import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import t, { type Test } from 'tap'
import { browserPage, CHROMIUM } from '../helpers/chromium.ts'
import type { Page } from 'playwright-core'
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts'
import { startFeedService } from '../helpers/feed.ts'
import { silentLogger } from '../helpers/log.ts'
import type { Service } from '../../src/service.ts'
import { waitFor } from '../helpers/wait.ts'

const ARTIFACTS = path.resolve('test-artifacts')

/** walcast on a fresh database running `catalog` with its demo seed, and a page signed in as `user`. */
async function signedIn(t: Test, catalog: string, user: string): Promise<{ tdb: TestDatabase; service: Service; page: Page; problems: string[] }> {
  t.ok(existsSync(CHROMIUM), `${CHROMIUM} is installed (Debian's chromium; .ci/run installs it)`)
  // Not prepared: walcast applies the catalog's own schema and publication at start-up.
  const tdb = await createTestDatabase(t, { prepared: false })
  const { service, url } = await startFeedService(t, tdb, { WALCAST_DEV: '1', WALCAST_CATALOG: catalog })
  t.equal(service.catalog.name, catalog)
  await service.catalog.demo!.seed(service.database.db, silentLogger())
  const page = await browserPage(t)
  const problems: string[] = []
  page.on('pageerror', (err) => problems.push(err.message))
  page.on('response', (response) => { if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`) })
  await page.goto(url)
  await page.getByRole('button', { name: user }).click()
  await page.getByTestId('connection').getByText('connected').waitFor({ timeout: 20_000 })
  t.equal(await page.getByTestId('who').textContent(), user)
  t.equal(await page.getByTestId('catalog').textContent(), `${catalog} dashboard`, 'the page names the running catalog')
  await fs.mkdir(ARTIFACTS, { recursive: true })
  return { tdb, service, page, problems }
}

t.test('the dashboard runs the payment-streams catalog: the user’s streams, a live update, connected', async (t) => {
  const { tdb, service, page, problems } = await signedIn(t, 'payment-streams', 'Ada Sender')
  const rows = page.locator('[data-testid="rows"] tr')
  await rows.first().waitFor({ timeout: 10_000 })
  t.equal(await page.getByTestId('rows-title').textContent(), 'Your payment streams')
  t.equal(await rows.count(), 1, 'Ada’s one stream')
  t.equal(await page.locator('tr[data-row="1"] .with').textContent(), 'Sam Recipient', 'the other party by display name')
  t.equal(await page.locator('tr[data-row="1"] .direction').textContent(), 'sending')
  t.notOk(await page.getByTestId('badge').isVisible(), 'no notifications in this catalog: no bell')
  await waitFor(() => service.gateway.stats().subscriptions >= 1, 10_000, 'stream:1 live')

  await tdb.query(`UPDATE payment_streams SET withdrawn = withdrawn + 5 WHERE id = 1`)
  const feed = page.getByTestId('feed')
  await feed.getByText('Stream #1: active, withdrawn 5.00 EUR').waitFor({ timeout: 15_000 })
  const item = feed.locator('li').first()
  t.equal(await item.getAttribute('data-topic'), 'stream:1')
  t.match(await item.locator('.meta').textContent(), /^stream:updated · stream:1 · /, 'type, topic and time')
  t.same(await item.locator('dt').allTextContents(), ['streamId', 'currency', 'rate', 'withdrawn', 'status'], 'the payload as key/values, and no memo')
  await page.locator('tr[data-row="1"] .withdrawn').getByText('5.00 EUR').waitFor({ timeout: 10_000 })
  t.pass('the row follows the event')
  t.equal(await page.getByTestId('connection').textContent(), 'connected')
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-payment-streams.png'), fullPage: true })
  t.same(problems, [], 'no script error and no failed request on the page')
})

t.test('the dashboard runs the approvals catalog: the user’s workspaces only, live approvals and notifications', async (t) => {
  const { tdb, service, page, problems } = await signedIn(t, 'approvals', 'Ada Owner')
  const rows = page.locator('[data-testid="rows"] tr')
  await rows.first().waitFor({ timeout: 10_000 })
  t.equal(await page.getByTestId('rows-title').textContent(), 'Your workspaces')
  t.same(await rows.locator('.name').allTextContents(), ['Acme operations'], 'Ada’s workspace, not Globex (another tenant)')
  t.equal(await page.locator('tr[data-row="1"] .pending').textContent(), '1')
  await waitFor(() => service.gateway.stats().subscriptions >= 2, 10_000, 'user:1 and workspace:1 live')

  await tdb.query(`INSERT INTO approvals.approvals (workspace_id, title, requested_by, requester_email) VALUES (1, 'Two laptops', 2, 'sam@example.com')`)
  const feed = page.getByTestId('feed')
  await feed.getByText(/^Approval #\d+ requested: Two laptops$/).waitFor({ timeout: 15_000 })
  t.match(await feed.locator('li').first().locator('.meta').textContent(), /^approval\.created · workspace:1 · /)
  t.notMatch(await feed.locator('li').first().textContent(), /sam@example\.com/, 'no email in the payload shown')
  await page.locator('tr[data-row="1"] .pending').getByText('2').waitFor({ timeout: 10_000 })
  t.pass('the pending count follows the event')

  await tdb.query(`INSERT INTO approvals.notifications (user_id, workspace_id, kind, title) VALUES (1, 1, 'approval', 'Please review')`)
  await feed.locator('.type').getByText('Please review', { exact: true }).waitFor({ timeout: 15_000 })
  await page.getByTestId('badge').getByText('1').waitFor({ timeout: 10_000 })
  t.pass('a notification raises the badge')
  t.equal(await page.getByTestId('connection').textContent(), 'connected')
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-approvals.png'), fullPage: true })
  t.same(problems, [], 'no script error and no failed request on the page')
})
