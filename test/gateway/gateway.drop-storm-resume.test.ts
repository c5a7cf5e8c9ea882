import t from 'tap'
import pg from 'pg'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { createTestDatabase } from '../helpers/db.ts'
import { collectPublished, startTestService } from '../helpers/service.ts'
import { adminToken, authEnv } from '../helpers/tokens.ts'
import { sleep, waitFor } from '../helpers/wait.ts'
import { connectWs, type ServerFrame, type TestWsClient } from '../helpers/ws-client.ts'

const TOPIC = 'admin:disputes'
const CLIENTS = 100
const STORMS = 3

/**
 * One client of the storm as the bench's and the SDK's are: every connection subscribes
 * with `batch`, a resume with `since` = the last id it holds, and the ids it got across
 * all its connections are kept in order.
 */
interface StormClient {
  readonly ids: string[]
  /** Where its first subscription went live: the resume point before it holds any event. */
  readonly head: string
  conn: TestWsClient
  /** Frames of `conn` already read into `ids`. */
  read: number
  duplicates: number
  dials: number
}

function absorb(client: StormClient): void {
  const frames = client.conn.frames
  for (; client.read < frames.length; client.read++) {
    const frame = frames[client.read]!
    const events = frame.op === 'event' ? [frame] : frame.op === 'events' ? (frame.events as ServerFrame[]) : []
    for (const event of events) {
      if (event.topic !== TOPIC) continue
      const last = client.ids.at(-1)
      if (last !== undefined && event.id! <= last) client.duplicates++
      else client.ids.push(event.id!)
    }
  }
}

t.test('I3, I9: after drop storms in the middle of a backlog and of the resumed replays, every client that resumes with since and batch catches up, once and in order', async (t) => {
  const tdb = await createTestDatabase(t)
  // A small buffer limit and window: resumes read the history and wait for the client to
  // drain between pages; the stall rule (8 s) and liveness stay on, as in the bench.
  const service = await startTestService(t, tdb, authEnv({
    WALCAST_MAX_BACKPRESSURE: String(64 * 1024), WALCAST_HUB_WINDOW_EVENTS: '200', WALCAST_WS_REPLAY_PAGE: '100',
    WALCAST_WS_MAX_CONNECTIONS_PER_USER: String(4 * CLIENTS), WALCAST_WS_IDLE_TIMEOUT: '16', WALCAST_DB_POOL: '4',
  }))
  const port = service.http.port
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'U')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (1, 'E', 1, 'EUR')`)
  const token = await adminToken()
  const published = collectPublished(service)

  const began = Date.now()
  const clients: StormClient[] = await Promise.all(Array.from({ length: CLIENTS }, async () => {
    const conn = await connectWs(t, port, token)
    const head = await conn.subscribeAndWait(TOPIC)
    if (head.op !== 'subscribed') throw new Error(`subscribe answered ${JSON.stringify(head)}`)
    return { ids: [], head: head.head as string, conn, read: 0, duplicates: 0, dials: 1 }
  }))
  const dial = async (client: StormClient): Promise<void> => {
    absorb(client)
    const conn = await connectWs(t, port, token)
    client.conn = conn
    client.read = 0
    client.dials++
    conn.send({ op: 'subscribe', topic: TOPIC, batch: true, ...(client.ids.length === 0 ? { since: client.head } : { since: client.ids.at(-1)! }) })
  }

  // The ingest held back while a backlog is committed, as in the bench's §6b: released, it
  // lands on every subscriber in batches of thousands.
  const lock = new pg.Client({ connectionString: tdb.url })
  await lock.connect()
  t.teardown(() => lock.end())
  await lock.query('BEGIN')
  await lock.query('LOCK TABLE walcast.events IN SHARE MODE')
  const backlog = 2000
  for (let i = 0; i < backlog / 100; i++) {
    await tdb.query(`INSERT INTO disputes (escrow_id, filed_by, reason) SELECT 1, 1, repeat('z', 300) || g FROM generate_series(1, 100) AS g`)
  }
  // A third stop reading: the backlog waits in their buffers when the first storm drops them.
  for (const [i, c] of clients.entries()) if (i % 3 === 0) c.conn.pause()
  await lock.query('COMMIT')
  // A writer goes on committing through the storms.
  let writing = true
  const writer = (async () => {
    let n = 0
    while (writing) {
      await tdb.query(`INSERT INTO disputes (escrow_id, filed_by, reason) SELECT 1, 1, 'live' || g FROM generate_series(1, 10) AS g`)
      n += 10
      await sleep(50)
    }
    return n
  })()

  // Storms: everybody dropped at once, the first while the backlog is on its way to them
  // (most of it in kernel buffers), the next while resumed replays are under way; each
  // client resumes at once from its last id, a third of them paused again so the next
  // storm drops them with full buffers.
  const notLive = (): number => service.gateway.sockets().filter((s) => s.subscriptions.some((sub) => sub.state !== 'live')).length
  let batches = 0
  let underWay = 0
  const topicEvents = (): number => published.filter((e) => e.topics.includes(TOPIC)).length
  await waitFor(() => topicEvents() >= backlog, 30_000, 'the backlog published')
  for (let storm = 0; storm < STORMS; storm++) {
    if (storm > 0) underWay = await waitFor(() => { const n = notLive(); return n > 0 ? n : undefined }, 20_000, `replays under way before storm ${storm}`)
    await sleep(300)
    const total = topicEvents()
    for (const c of clients) {
      c.conn.resume()
      absorb(c)
      batches += c.conn.frames.filter((f) => f.op === 'events').length
      c.conn.ws.terminate()
    }
    const late = clients.filter((c) => c.ids.length < total).length
    t.ok(late > 0, `storm ${storm} at ${Date.now() - began} ms: ${late} of ${CLIENTS} clients behind the ${total} published, ${underWay} replays under way (paced so far: ${service.gateway.stats().pacedSubscriptions})`)
    await Promise.all(clients.map((c) => dial(c)))
    for (const [i, c] of clients.entries()) if ((i + storm) % 3 === 0) c.conn.pause()
  }
  await sleep(500)
  for (const c of clients) c.conn.resume()
  writing = false
  const live = await writer
  await waitFor(() => topicEvents() >= backlog + live, 30_000, 'every event published')
  t.comment(`writer stopped at ${Date.now() - began} ms after ${live} live events`)
  const ids = published.filter((e) => e.topics.includes(TOPIC)).map((e) => e.id)

  const behind = (): StormClient[] => clients.filter((c) => { absorb(c); return c.ids.length < ids.length && c.conn.closeInfo() === undefined })
  const lag = monitorEventLoopDelay({ resolution: 10 })
  lag.enable()
  const progress = setInterval(() => {
    const late = behind()
    const sockets = service.gateway.sockets()
    t.comment(`${Date.now() - began} ms: ${late.length} behind, ${clients.reduce((n, c) => n + c.ids.length, 0)} held; server: ${sockets.filter((s) => s.drainWaiters > 0).length} waiting for a drain, ${sockets.filter((s) => s.subscriptions.some((sub) => sub.state !== 'live')).length} not live, buffered ${sockets.reduce((n, s) => n + s.buffered, 0)}, reads ${JSON.stringify(service.subscriptions.readStats())}, loop lag p99 ${Math.round(lag.percentile(99) / 1e6)} ms max ${Math.round(lag.max / 1e6)}`)
    lag.reset()
  }, 5000)
  try {
    await waitFor(() => behind().length === 0, 60_000, 'every resumed client to catch up')
  } finally {
    clearInterval(progress)
    const stuck = behind().map((c) => ({ got: c.ids.length, last: c.ids.at(-1), dials: c.dials, lastOp: c.conn.frames.at(-1)?.op, frames: c.conn.frames.length }))
    if (stuck.length > 0) t.comment(`${stuck.length} behind of ${ids.length}: ${JSON.stringify(stuck.slice(0, 10))}; server: ${JSON.stringify(service.gateway.sockets().filter((s) => s.drainWaiters > 0 || s.subscriptions.some((sub) => sub.state !== 'live')).slice(0, 10))} reads ${JSON.stringify(service.subscriptions.readStats())}`)
  }
  t.comment(`caught up at ${Date.now() - began} ms`)
  batches += clients.reduce((n, c) => n + c.conn.frames.filter((f) => f.op === 'events').length, 0)
  t.ok(batches > 0, `the resumed replays came in batch frames (${batches})`)
  t.same(clients.map((c) => c.conn.closeInfo()?.code).filter((code) => code !== undefined), [], 'no resumed client was closed')
  for (const [i, c] of clients.entries()) {
    if (c.duplicates !== 0 || c.ids.length !== ids.length || c.ids.some((id, k) => id !== ids[k])) t.fail(`client ${i}: ${c.ids.length} of ${ids.length} events, ${c.duplicates} duplicates, or out of order`)
  }
  t.pass('every client holds every event once, in order')
})
