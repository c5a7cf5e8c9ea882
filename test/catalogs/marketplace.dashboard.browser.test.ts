import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { browserPage, CHROMIUM } from '../helpers/chromium.ts'
import { createTestDatabase } from '../helpers/db.ts'
import { startFeedService } from '../helpers/feed.ts'
import { silentLogger } from '../helpers/log.ts'
import { waitFor } from '../helpers/wait.ts'

const ARTIFACTS = path.resolve('test-artifacts')

t.test('the dashboard runs the marketplace catalog: Ada\'s profile, requests and chats, live offers on her buyer topic, notifications', async (t) => {
  t.ok(existsSync(CHROMIUM), `${CHROMIUM} is installed (Debian's chromium; .ci/run installs it)`)
  const tdb = await createTestDatabase(t, { prepared: false })
  const { service, url } = await startFeedService(t, tdb, { WALCAST_DEV: '1', WALCAST_CATALOG: 'marketplace' })
  await service.catalog.demo!.seed(service.database.db, silentLogger())
  const page = await browserPage(t)
  const problems: string[] = []
  page.on('pageerror', (err) => problems.push(err.message))
  page.on('response', (response) => { if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`) })
  await page.goto(url)
  await page.getByRole('button', { name: 'Ada Buyer' }).click()
  await page.getByTestId('connection').getByText('connected').waitFor({ timeout: 20_000 })
  t.equal(await page.getByTestId('catalog').textContent(), 'marketplace dashboard')

  const rows = page.locator('[data-testid="rows"] tr')
  await rows.first().waitFor({ timeout: 10_000 })
  t.equal(await page.getByTestId('rows-title').textContent(), 'Your marketplace')
  t.same(await rows.locator('.kind').allTextContents(), ['Buyer profile', 'Chat #1', 'Request #1 (buyer)'], 'her buyer profile, then her chat and request, newest first')
  t.equal(await page.locator('tr[data-row="chat:1"] .status').textContent(), '1 unread', 'Sam\'s greeting is unread')
  await waitFor(() => service.gateway.stats().subscriptions >= 4, 10_000, 'user:1 and the three rows\' topics live')

  // Sol bids on Ada's request: the offer reaches her buyer topic, sealed from the other bidder.
  await tdb.query(`INSERT INTO marketplace.offers (request_id, seller_id, price, currency, internal_cost) VALUES (1, 2, 555.00, 'EUR', 321.00)`)
  const feed = page.getByTestId('feed')
  await feed.getByText(/^Offer #\d+ on request #1: 555\.00 EUR$/).waitFor({ timeout: 15_000 })
  const item = feed.locator('li').first()
  t.equal(await item.getAttribute('data-topic'), 'buyer:1')
  t.notMatch(await item.textContent(), /321/, 'no internal cost on the page')

  await tdb.query(`INSERT INTO marketplace.chat_messages (chat_id, sender_id, body) VALUES (1, 2, 'Any questions?')`)
  await feed.getByText('Chat #1: Any questions?').waitFor({ timeout: 15_000 })
  await page.locator('tr[data-row="chat:1"] .status').getByText('2 unread').waitFor({ timeout: 10_000 })
  t.pass('the unread count follows the chat')

  await tdb.query(`INSERT INTO marketplace.notifications (audience, user_id, kind, title) VALUES ('user', 1, 'offer', 'Sol made an offer')`)
  await page.getByTestId('badge').getByText('1').waitFor({ timeout: 15_000 })
  t.pass('a notification raises the badge')
  t.equal(await page.getByTestId('connection').textContent(), 'connected')
  await fs.mkdir(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-marketplace.png'), fullPage: true })
  t.same(problems, [], 'no script error and no failed request on the page')
})
