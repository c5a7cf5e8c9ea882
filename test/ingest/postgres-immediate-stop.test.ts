import pg from 'pg'
import t from 'tap'
import { committedNotificationIds, historyNotificationIds, startInsertBurst } from '../helpers/insert-burst.ts'
import { startOwnPostgres } from '../helpers/own-server.ts'
import { childEnv, spawnWalcast, type WalcastProcess } from '../helpers/spawn.ts'
import { waitFor } from '../helpers/wait.ts'

const STOPS = 10

/** A walcast log line; `time` in epoch ms. */
interface LogLine { msg: string; retryInMs?: number; time: number }

function logLines(walcast: WalcastProcess): LogLine[] {
  return walcast.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => {
    const line = JSON.parse(l) as Omit<LogLine, 'time'> & { time: string }
    return { ...line, time: Date.parse(line.time) }
  })
}

const streamingLines = (walcast: WalcastProcess): LogLine[] => logLines(walcast).filter((l) => l.msg === 'replication streaming')

t.test('I1: ten immediate Postgres stops during a burst: walcast keeps its PID, streams again within seconds each time, and the history holds every committed change once, in order', async (t) => {
  const server = await startOwnPostgres(t)
  const walcast = spawnWalcast(['serve'], childEnv({ url: server.url, slot: 'walcast', publication: 'walcast' }))
  t.teardown(() => walcast.kill('SIGKILL'))
  let exit: number | string | undefined
  void walcast.exited.then((code) => { exit = code })
  await waitFor(() => streamingLines(walcast).length === 1 || exit !== undefined, 30_000, 'walcast streaming')
  t.equal(exit, undefined, 'walcast started', { stderr: walcast.stderr() })

  const pool = new pg.Pool({ connectionString: server.url, max: 2 })
  pool.on('error', () => {})
  t.teardown(() => pool.end())
  const query = async <R extends pg.QueryResultRow>(text: string): Promise<R[]> => (await pool.query<R>(text)).rows
  await query(`INSERT INTO users (id, display_name) VALUES (1, 'u')`)
  const inHistory = async (): Promise<number> => (await query<{ n: number }>('SELECT count(*)::int AS n FROM walcast.events'))[0]!.n

  const burst = startInsertBurst(server.url)
  t.teardown(() => burst.stop())
  const restreamMs: number[] = []
  for (let stop = 1; stop <= STOPS; stop++) {
    // Mid-burst: commits are flowing and walcast is writing and acknowledging them.
    const before = burst.commits()
    await waitFor(() => burst.commits() >= before + 100, 15_000, `commits before stop ${stop}`)
    const streamed = streamingLines(walcast).length
    await server.stopImmediately()
    await server.start()
    const restarted = Date.now()
    await waitFor(() => streamingLines(walcast).length > streamed || exit !== undefined, 15_000, `streaming after restart ${stop}`)
    t.equal(exit, undefined, `walcast is still running after stop ${stop}`, { stderr: walcast.stderr().slice(-3000) })
    if (exit !== undefined) return
    restreamMs.push(streamingLines(walcast).at(-1)!.time - restarted)
    // Healthy for at least as long as the wait before it: the next outage starts again at
    // the base delay (the rule the backoff follows).
    const lastWait = logLines(walcast).filter((l) => l.retryInMs !== undefined).at(-1)?.retryInMs ?? 0
    const caughtUp = burst.commits()
    await waitFor(async () => Date.now() - streamingLines(walcast).at(-1)!.time >= lastWait && (await inHistory()) >= caughtUp, 30_000, `walcast catching up after stop ${stop}`)
  }
  await burst.stop()

  t.ok(restreamMs.every((ms) => ms < 5000), `streaming again within 5 s of every restart (${restreamMs.join(', ')} ms)`)
  const committed = await committedNotificationIds(pool)
  t.ok(committed.length >= STOPS * 100, `${committed.length} committed changes`)
  await waitFor(async () => (await inHistory()) >= committed.length, 30_000, 'every committed change in the history')
  t.same(await historyNotificationIds(pool), committed, 'every committed change exactly once, in commit order')

  // Each outage starts its retries at the base delay again (the bug: 0.5, 1, 2, 4, 8, 16 s
  // across consecutive outages).
  const lines = logLines(walcast)
  const firstRetries: number[] = []
  let streaming = false
  for (const line of lines) {
    if (line.msg === 'replication streaming') streaming = true
    else if (line.retryInMs !== undefined && streaming) {
      firstRetries.push(line.retryInMs)
      streaming = false
    }
  }
  t.equal(firstRetries.length, STOPS, 'one outage per stop')
  t.same(firstRetries, Array(STOPS).fill(500), 'every outage retries first after the base delay')
  t.equal(exit, undefined, 'the same walcast process throughout')
  t.doesNotThrow(() => process.kill(walcast.pid, 0), `pid ${walcast.pid} alive`)
})
