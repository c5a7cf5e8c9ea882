import { spawn } from 'node:child_process'
import net from 'node:net'
import path from 'node:path'
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { StartupError } from '../src/errors.ts'
import { startService } from '../src/service.ts'
import { createTestDatabase, type TestDatabase } from './helpers/db.ts'
import { capturingLogger } from './helpers/log.ts'
import { freePort } from './helpers/own-server.ts'
import { startTestRedis } from './helpers/redis.ts'
import { startTestService, waitForHistory } from './helpers/service.ts'
import { sleep } from './helpers/wait.ts'

/** A loopback port another process listens on, for the node's HTTP server to fail on. */
async function takenPort(t: Test): Promise<number> {
  const port = await freePort()
  const squatter = net.createServer()
  await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => squatter.close(() => resolve())))
  return port
}

// Every timer of a node fires many times within the watch below, so one left running
// shows (its database is closed: it logs its failure), and so does an ingest left to
// take the slot.
const FAST_TIMERS = { WALCAST_HEARTBEAT: '100ms', WALCAST_WAL_CHECK_INTERVAL: '100ms', WALCAST_PRUNE_INTERVAL: '100ms', WALCAST_TAKEOVER_RETRY: '100ms' }
const WATCH_MS = 2500

interface Leftovers {
  slotActive: boolean
  /** application_name of every connection of the node still open on its database. */
  connections: string[]
}

async function leftovers(tdb: TestDatabase): Promise<Leftovers> {
  const slot = await tdb.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [tdb.slot])
  // walcast, walcast-writer, walcast:<slot> (the walsender); not the test's own walcast-test.
  const open = await tdb.query<{ name: string }>(
    `SELECT application_name AS name FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'walcast%' AND application_name <> 'walcast-test' ORDER BY 1`,
    [tdb.name],
  )
  return { slotActive: slot.rows[0]?.active ?? false, connections: open.rows.map((r) => r.name) }
}

/** Watches the failed node's database for a while: nothing of it may run on. */
async function expectNothingLeft(t: Test, tdb: TestDatabase, logs: () => string[]): Promise<void> {
  const logged = logs().length
  const deadline = Date.now() + WATCH_MS
  let seen = await leftovers(tdb)
  while (Date.now() < deadline && !seen.slotActive) {
    await sleep(100)
    seen = await leftovers(tdb)
  }
  t.same(seen, { slotActive: false, connections: [] }, 'the slot is not held and no connection of the node is open')
  const after = logs().slice(logged).map((line) => JSON.parse(line) as { module?: string; msg: string })
  t.same([...new Set(after.map((line) => `${line.module}: ${line.msg}`))], [], 'nothing of the node runs on to log after startService rejected')
}

/** The slot is free: another node takes it and streams what is committed. */
async function expectAnotherNodeStreams(t: Test, tdb: TestDatabase, env: Record<string, string> = {}): Promise<void> {
  await startTestService(t, tdb, env)
  const held = await tdb.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [tdb.slot])
  t.equal(held.rows[0]?.active, true, 'the next node holds the slot')
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (1, 'after the failed start', 1, 'USD')`)
  const rows = await waitForHistory(tdb, 1)
  t.equal(String(rows[0]?.payload.escrowId), '1', 'and streams what is committed')
}

t.test('I19: the HTTP port taken: HTTP_LISTEN_FAILED, and the half-started node is stopped whole: slot released, connections closed, no timer left; the next node takes the slot', async (t) => {
  const tdb = await createTestDatabase(t)
  const port = await takenPort(t)
  const captured = capturingLogger('info')
  const err = await startService(tdb.config({ ...FAST_TIMERS, WALCAST_PORT: String(port) }), captured.log).catch((e: unknown) => e)
  t.type(err, StartupError)
  t.match(err, { code: 'HTTP_LISTEN_FAILED', message: `cannot listen on 127.0.0.1:${port}: is the port in use?`, hint: /WALCAST_PORT/ })
  await expectNothingLeft(t, tdb, captured.lines)
  await expectAnotherNodeStreams(t, tdb)
})

t.test('I19: a start that fails after the bus started closes its Redis connections too, and the next node takes the slot', async (t) => {
  const tdb = await createTestDatabase(t)
  const redis = await startTestRedis(t)
  const probe = new Redis(redis.url)
  t.teardown(() => probe.disconnect())
  const clients = async (): Promise<number> => String(await probe.client('LIST')).trim().split('\n').length
  const received = async (): Promise<number> => Number(/total_connections_received:(\d+)/.exec(await probe.info('stats'))![1])
  const before = await clients()
  const connectionsBefore = await received()
  const port = await takenPort(t)
  const captured = capturingLogger('info')
  const env = { ...FAST_TIMERS, WALCAST_REDIS_URL: redis.url, WALCAST_BUS_FALLBACK_POLL: '100ms' }
  const err = await startService(tdb.config({ ...env, WALCAST_PORT: String(port) }), captured.log).catch((e: unknown) => e)
  t.match(err, { code: 'HTTP_LISTEN_FAILED' })
  t.ok(await received() >= connectionsBefore + 2, 'the bus had connected (its reader and writer) before the failure')
  await expectNothingLeft(t, tdb, captured.lines)
  t.equal(await clients(), before, 'no Redis connection of the node is left')
  await expectAnotherNodeStreams(t, tdb, { WALCAST_REDIS_URL: redis.url })
})

t.test('I19: a library caller that catches a failed start exits by itself: nothing keeps its event loop alive', async (t) => {
  const tdb = await createTestDatabase(t)
  const port = await takenPort(t)
  const child = spawn(process.execPath, [...process.execArgv, path.resolve('test/fixtures/library-start-fails.ts')], {
    env: {
      ...process.env,
      DATABASE_URL: tdb.url,
      WALCAST_SLOT: tdb.slot,
      WALCAST_PUBLICATION: tdb.publication,
      WALCAST_LOG_LEVEL: 'silent',
      WALCAST_PORT: String(port),
      ...FAST_TIMERS,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (chunk) => { out += String(chunk) })
  child.stderr.on('data', (chunk) => { out += String(chunk) })
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)))
  // Its loader and start-up take a few seconds; a timer or socket left running never ends.
  const ended = await Promise.race([exited, sleep(20_000).then(() => 'still running' as const)])
  if (ended === 'still running') {
    child.kill('SIGKILL')
    await exited
  }
  t.equal(ended, 0, 'the process ended on its own, exit code 0')
  t.match(out, /^rejected HTTP_LISTEN_FAILED\n/, 'after startService rejected with the typed error')
  t.same(await leftovers(tdb), { slotActive: false, connections: [] })
})
