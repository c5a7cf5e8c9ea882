import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { collectPublished, startTestService } from '../helpers/service.ts'
import { adminToken, authEnv } from '../helpers/tokens.ts'
import { sleep, waitFor } from '../helpers/wait.ts'
import { connectWs, type TestWsClient } from '../helpers/ws-client.ts'

const TOPIC = 'admin:disputes'
const CLIENTS = 100

t.test('I3, I9: after a mass drop in the middle of a paced catch-up, every client that resumes with since completes, once and in order, and goes live', async (t) => {
  const tdb = await createTestDatabase(t)
  // A small buffer limit and window: the burst paces most clients, and the resumes read the history.
  const service = await startTestService(t, tdb, authEnv({
    WALCAST_MAX_BACKPRESSURE: String(128 * 1024), WALCAST_HUB_WINDOW_EVENTS: '200', WALCAST_WS_REPLAY_PAGE: '100',
    WALCAST_WS_MAX_CONNECTIONS_PER_USER: String(4 * CLIENTS), WALCAST_WS_IDLE_TIMEOUT: '16', WALCAST_DB_POOL: '4',
  }))
  const port = service.http.port
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'U')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (1, 'E', 1, 'EUR')`)
  const token = await adminToken()
  const first = await Promise.all(Array.from({ length: CLIENTS }, () => connectWs(t, port, token)))
  await Promise.all(first.map((c) => c.subscribeAndWait(TOPIC)))
  const published = collectPublished(service)
  // A third of them stop reading for a while: their kernel buffers fill and they are paced.
  const slow = first.filter((_, i) => i % 3 === 0)
  for (const c of slow) c.pause()
  const burst = 1500
  await tdb.query(`INSERT INTO disputes (escrow_id, filed_by, reason) SELECT 1, 1, repeat('z', 1000) || g FROM generate_series(1, ${burst}) AS g`)
  await waitFor(() => published.length >= burst, 30_000, 'the burst published')
  await sleep(300)
  // Dropped as soon as one of the paced clients takes a frame again: the server is still
  // catching all of them up. (A fixed 200 ms after the resume let nearly all of them finish
  // first: 4 clients of 100 were still behind in one loaded run, none would be on a faster host.)
  const readingAgain = new Promise<void>((resolve) => { for (const c of slow) c.ws.once('message', () => resolve()) })
  for (const c of slow) c.resume()
  await readingAgain
  // Every socket dropped at once, mid-catch-up for many.
  const seen = first.map((c) => c.events(TOPIC).map((e) => e.id!))
  for (const c of first) c.ws.terminate()
  const behind = seen.filter((ids) => ids.length < burst).length
  t.ok(behind > 0, `${behind} clients were still catching up when dropped`)

  // All resume at once from the last id each saw, while more events are committed.
  const second: TestWsClient[] = await Promise.all(Array.from({ length: CLIENTS }, () => connectWs(t, port, token)))
  second.forEach((c, i) => c.subscribe(TOPIC, seen[i]!.length === 0 ? { since: '0000000000000000-00000000' } : { since: seen[i]!.at(-1)! }))
  await tdb.query(`INSERT INTO disputes (escrow_id, filed_by, reason) SELECT 1, 1, 'after' || g FROM generate_series(1, 200) AS g`)
  await waitFor(() => published.length >= burst + 200, 30_000, 'the later events published')
  const ids = published.filter((e) => e.topics.includes(TOPIC)).map((e) => e.id)
  const complete = (i: number): boolean => seen[i]!.length + second[i]!.events(TOPIC).length >= ids.length
  try {
    await waitFor(() => second.every((c, i) => complete(i) || c.closeInfo() !== undefined), 90_000, 'every resumed client to complete')
  } finally {
    const stuck = second.map((c, i) => ({ i, got: seen[i]!.length + c.events(TOPIC).length, subscribed: c.frames.some((f) => f.op === 'subscribed'), close: c.closeInfo()?.code, last: c.frames.at(-1)?.op })).filter((s) => s.got < ids.length)
    if (stuck.length > 0) t.comment(`stuck: ${JSON.stringify(stuck.slice(0, 10))} stats ${JSON.stringify(service.gateway.stats())}`)
  }
  t.same(second.map((c) => c.closeInfo()?.code).filter((code) => code !== undefined), [], 'no resumed client was closed')
  for (const [i, c] of second.entries()) {
    const all = [...seen[i]!, ...c.events(TOPIC).map((e) => e.id!)]
    if (all.length !== ids.length || all.some((id, k) => id !== ids[k])) t.fail(`client ${i}: ${all.length} of ${ids.length} events, or out of order`)
  }
  t.pass('every client holds every event once, in order')
})
