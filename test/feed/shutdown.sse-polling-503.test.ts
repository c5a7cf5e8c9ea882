import pg from 'pg'
import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { openSse, startFeedService } from '../helpers/feed.ts'
import { capturingLogger } from '../helpers/log.ts'
import { waitForHistory } from '../helpers/service.ts'
import { signToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'

// Log lines carry the level's label (src/log.ts).
const isError = (line: string): boolean => ['error', 'fatal'].includes((JSON.parse(line) as { level: string }).level)

type Answer = { path: string; status: number; code?: string } | { path: string; refused: string }

t.test('stop() with clients arriving: SSE opens, polls and plain routes get 200 or 503 shutting_down, never 500, and nothing logs an error', async (t) => {
  const tdb = await createTestDatabase(t)
  const { log, lines } = capturingLogger('info')
  const { service, url } = await startFeedService(t, tdb, { WALCAST_DEV: '1' }, log)
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'Ada')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency, status) VALUES (1, 'A', 1, 'EUR', 'draft')`)
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role, accepted_at) VALUES (1, 1, 'buyer', now())`)
  const [first] = await waitForHistory(tdb, 2)
  const auth = { authorization: `Bearer ${await signToken('1')}` }

  // Every kind of request that reaches the database: a poll (resume check and page), an SSE
  // open (access check, then a replay from `Last-Event-ID` or live), the dashboard's dev
  // routes, readiness and metrics.
  const requests: (() => Promise<Answer>)[] = [
    () => plain(`/v1/events?topic=escrow:1&after=${first!.id}`),
    () => plain('/v1/events?topic=escrow:1&limit=0'),
    () => sse(`/v1/sse?topic=escrow:1`, {}),
    () => sse(`/v1/sse?topic=escrow:1`, { 'last-event-id': first!.id }),
    () => plain('/v1/dev/overview'),
    () => plain('/v1/dev/token?user=1'),
    () => plain('/v1/dev/users'),
    () => plain('/readyz'),
    () => plain('/metrics'),
  ]
  async function plain(path: string): Promise<Answer> {
    try {
      const response = await fetch(`${url}${path}`, { headers: auth })
      const text = await response.text()
      return { path, status: response.status, code: response.status === 200 ? undefined : (JSON.parse(text) as { error: { code: string } }).error.code }
    } catch (err) {
      return { path, refused: String((err as Error).cause ?? err) }
    }
  }
  async function sse(path: string, headers: Record<string, string>): Promise<Answer> {
    try {
      const stream = await openSse(`${url}${path}`, { ...auth, ...headers })
      stream.close()
      return { path, status: stream.status, code: (stream.body as { error?: { code: string } } | undefined)?.error?.code }
    } catch (err) {
      return { path, refused: String((err as Error).cause ?? err) }
    }
  }

  const answers: Answer[] = []
  let stopped = false
  // Workers keep their keep-alive connections, so requests still arrive after the listen
  // socket closes, while the database is being closed, and after stop() has returned.
  const worker = async (offset: number): Promise<void> => {
    let afterStop = 0
    for (let i = offset; afterStop < requests.length; i++) {
      if (stopped) afterStop++
      answers.push(await requests[i % requests.length]!())
    }
  }
  const workers = Array.from({ length: 12 }, (_, i) => worker(i))
  await waitFor(() => answers.filter((a) => 'status' in a && a.status === 200).length >= 3 * requests.length, 15_000, 'requests answered before the stop')
  await service.stop()
  stopped = true
  await Promise.all(workers)

  const answered = answers.filter((a): a is Extract<Answer, { status: number }> => 'status' in a)
  const wrong = answered.filter((a) => a.status !== 200 && !(a.status === 503 && a.code === 'shutting_down'))
  t.same(wrong, [], 'every answer is 200 or 503 shutting_down')
  t.ok(answered.some((a) => a.status === 503), 'some requests arrived while stopping and were told so')
  const after = answered.filter((a) => a.status === 503)
  t.ok(new Set(after.map((a) => a.path.split('?')[0])).size >= 5, `503 from every kind of route: ${[...new Set(after.map((a) => a.path.split('?')[0]))].join(', ')}`)
  const errors = lines().filter(isError)
  t.same(errors, [], 'no error lines')
})

t.test('an SSE open and a poll whose access check spans the database close get 503 shutting_down, and no error is logged', async (t) => {
  const tdb = await createTestDatabase(t)
  const { log, lines } = capturingLogger('info')
  const { service, url } = await startFeedService(t, tdb, {}, log)
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'Ada')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency, status) VALUES (1, 'A', 1, 'EUR', 'draft'), (2, 'B', 1, 'EUR', 'draft'), (3, 'C', 1, 'EUR', 'draft')`)
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role, accepted_at) VALUES (1, 1, 'buyer', now()), (2, 1, 'buyer', now()), (3, 1, 'buyer', now())`)
  await waitForHistory(tdb, 6)
  const auth = { authorization: `Bearer ${await signToken('1')}` }

  // The membership lookups wait on this lock until stop() has begun closing the database:
  // the SSE open's second topic and the poll's page then meet a destroyed driver.
  const locker = new pg.Client({ connectionString: tdb.url })
  await locker.connect()
  t.teardown(() => locker.end().catch(() => {}))
  await locker.query('BEGIN; LOCK TABLE public.escrow_parties IN ACCESS EXCLUSIVE MODE')
  const sseAnswer = openSse(`${url}/v1/sse?topic=escrow:1&topic=escrow:2`, auth)
  const pollAnswer = fetch(`${url}/v1/events?topic=escrow:3`, { headers: auth })
  // pg_stat_activity is the whole server's: another test's database may wait on its own lock.
  await waitFor(async () => (await tdb.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%escrow_parties%'`)).rows[0]!.n === 2, 10_000, 'both lookups waiting on the lock')

  let closing = false
  const close = service.database.close.bind(service.database)
  ;(service.database as { close: () => Promise<void> }).close = () => {
    closing = true
    return close()
  }
  const stopped = service.stop()
  await waitFor(() => closing, 15_000, 'stop() closing the database')
  await locker.query('COMMIT')
  await stopped

  const stream = await sseAnswer
  t.equal(stream.status, 503)
  t.match(stream.body, { error: { code: 'shutting_down' } })
  const poll = await pollAnswer
  t.equal(poll.status, 503)
  t.match(await poll.json(), { error: { code: 'shutting_down' } })
  const errors = lines().filter(isError)
  t.same(errors, [], 'no error lines')
})
