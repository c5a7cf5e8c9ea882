import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { collectPublished, startTestService } from '../helpers/service.ts'
import { adminToken, authEnv } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'
import { connectWs } from '../helpers/ws-client.ts'

t.test('a burst of large events keeps the window under WALCAST_HUB_WINDOW_BYTES; resumes before it read the history, after it the window, and lose nothing', async (t) => {
  const tdb = await createTestDatabase(t)
  const bound = 256 * 1024
  const service = await startTestService(t, tdb, authEnv({ WALCAST_HUB_WINDOW_BYTES: '256KiB', WALCAST_HUB_WINDOW_EVENTS: '10000' }))
  const port = service.http.port
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'U')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (1, 'E', 1, 'EUR')`)
  const published = collectPublished(service)
  let peak = 0
  service.hub.subscribe(() => { peak = Math.max(peak, service.hub.window().bytes) })

  // 100 events of 20 kB (2 MB): eight times the bound.
  const total = 100
  for (let i = 0; i < 10; i++) await tdb.query(`INSERT INTO disputes (escrow_id, filed_by, reason) SELECT 1, 1, repeat('w', 20000) || g FROM generate_series(1, 10) AS g`)
  await waitFor(() => published.filter((e) => e.topics.includes('admin:disputes')).length === total, 30_000, 'the burst published')
  const ids = published.filter((e) => e.topics.includes('admin:disputes')).map((e) => e.id)
  const window = service.hub.window()
  t.ok(peak <= bound && window.bytes <= bound, `the window never held more than the bound (peak ${peak} bytes)`)
  t.ok(window.events > 0 && window.events < 20, `it holds the newest ${window.events} events, not all ${total}`)

  const token = await adminToken()
  const early = await connectWs(t, port, token)
  t.equal((await early.subscribeAndWait('admin:disputes', { since: ids[4]! }, 30_000)).op, 'subscribed')
  t.same(early.events('admin:disputes').map((e) => e.id), ids.slice(5), 'a resume from before the window: every later event, from the history')
  t.ok(service.gateway.stats().replayEvents >= total - 5)
  const late = await connectWs(t, port, token)
  t.equal((await late.subscribeAndWait('admin:disputes', { since: ids[total - 3]! })).op, 'subscribed')
  t.same(late.events('admin:disputes').map((e) => e.id), ids.slice(total - 2), 'a resume inside the window: the last two')
  t.ok(service.hub.recentSince(['admin:disputes'], ids[total - 3]!) !== undefined, 'which the window could prove')
  t.equal(service.hub.recentSince(['admin:disputes'], ids[4]!), undefined, 'and the early one it could not')
})
