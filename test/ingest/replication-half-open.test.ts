import net from 'node:net'
import t, { type Test } from 'tap'
import pg from 'pg'
import { committedNotificationIds, historyNotificationIds, startInsertBurst } from '../helpers/insert-burst.ts'
import { capturingLogger } from '../helpers/log.ts'
import { startOwnPostgres } from '../helpers/own-server.ts'
import { collectPublished } from '../helpers/service.ts'
import { sleep, waitFor } from '../helpers/wait.ts'
import { loadConfig } from '../../src/config.ts'
import { startService } from '../../src/service.ts'
import { defaultReplicationTimeout, parseServerDuration } from '../../src/replication/liveness.ts'

interface Pair {
  readonly client: net.Socket
  readonly upstream: net.Socket
  replication: boolean
  stalled: boolean
  /** walcast closed its end of a stalled connection. */
  droppedByWalcast: boolean
}

/**
 * A loopback TCP proxy in front of Postgres. stallReplication() makes the open
 * replication connections go silent in both directions, as a vanished peer or path does:
 * bytes are swallowed and neither side learns of a close. New connections pass.
 */
async function startProxy(t: Test, target: URL) {
  const pairs: Pair[] = []
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname)
    const pair: Pair = { client, upstream, replication: false, stalled: false, droppedByWalcast: false }
    pairs.push(pair)
    let first = true
    client.on('data', (chunk) => {
      // The startup message names the connection's kind (replication=database).
      if (first) pair.replication = chunk.includes('replication\0database\0')
      first = false
      if (!pair.stalled) upstream.write(chunk)
    })
    upstream.on('data', (chunk) => { if (!pair.stalled) client.write(chunk) })
    client.on('close', () => {
      if (pair.stalled) pair.droppedByWalcast = true
      else upstream.destroy()
    })
    upstream.on('close', () => { if (!pair.stalled) client.destroy() })
    client.on('error', () => {})
    upstream.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const pair of pairs) { pair.client.destroy(); pair.upstream.destroy() }
    server.close()
  })
  return {
    port: (server.address() as net.AddressInfo).port,
    pairs,
    stallReplication(): Pair[] {
      const open = pairs.filter((p) => p.replication && !p.client.destroyed)
      for (const pair of open) pair.stalled = true
      return open
    },
  }
}

async function readyz(port: number): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`)
  return { status: res.status, body: await res.json() }
}

t.test('I1, I2: a replication connection that goes silent without closing is dropped within WALCAST_REPLICATION_TIMEOUT, /readyz says 503 meanwhile, and walcast streams again with nothing lost', async (t) => {
  // A server of its own: nothing else writes WAL, so while walcast's tables are idle the
  // server sends nothing unless walcast asks. It ends a walsender it has not heard from
  // for wal_sender_timeout: 4 s here, so the slot the dead connection held is free soon.
  const server = await startOwnPostgres(t, ['wal_level=logical', 'wal_sender_timeout=4s'])
  t.equal(await defaultReplicationTimeout(server.url), 8000, 'the default: twice the server\'s wal_sender_timeout')
  const proxy = await startProxy(t, new URL(server.url))
  const url = new URL(server.url)
  url.port = String(proxy.port)
  const { log, lines } = capturingLogger('info')
  const config = loadConfig({ DATABASE_URL: url.toString(), WALCAST_PORT: '0', WALCAST_STATUS_INTERVAL: '1s', WALCAST_TAKEOVER_RETRY: '300ms', WALCAST_REPLICATION_TIMEOUT: '3s' })
  const service = await startService(config, log)
  t.teardown(() => service.stop())
  const port = service.http.port
  await waitFor(async () => (await readyz(port)).status === 200, 15_000, '/readyz 200')
  const published = collectPublished(service)
  const notificationsPublished = (): number[] => published.filter((e) => e.type === 'notification:new').map((e) => Number(e.data.notificationId))
  const pool = new pg.Pool({ connectionString: server.url, max: 2 })
  pool.on('error', () => {})
  t.teardown(() => pool.end())
  await pool.query(`INSERT INTO users (id, display_name) VALUES (1, 'u')`)

  // Idle for half again the timeout: a quiet connection that answers the keepalive walcast
  // asks for halfway through is alive.
  const quietUntil = performance.now() + 4500
  const quiet = new Set<number>()
  while (performance.now() < quietUntil) {
    quiet.add((await readyz(port)).status)
    await sleep(100)
  }
  t.same([...quiet], [200], '/readyz 200 throughout')
  t.notOk(lines().some((l) => l.includes('WALCAST_REPLICATION_TIMEOUT')), 'a quiet connection is not dropped')

  const burst = startInsertBurst(server.url)
  t.teardown(() => burst.stop())
  await waitFor(() => notificationsPublished().length >= 200, 15_000, 'the burst streaming')

  const stalled = proxy.stallReplication()
  t.equal(stalled.length, 1, 'the replication connection goes silent')
  const since = performance.now()
  const down = await waitFor(async () => {
    const r = await readyz(port)
    return r.status === 503 ? r : undefined
  }, 10_000, '/readyz 503')
  const detectedMs = performance.now() - since
  t.ok(detectedMs >= 2500 && detectedMs < 4500, `503 after ${Math.round(detectedMs)} ms: the 3 s timeout, not sooner, hardly later`)
  t.match(down.body, { error: { code: 'not_ready', message: /^replication is reconnecting: nothing from the server for 3000 ms \(WALCAST_REPLICATION_TIMEOUT\)/ } })
  await waitFor(() => stalled[0]!.droppedByWalcast, 5000, 'walcast to close the silent connection')
  t.pass('walcast closed the silent connection itself')

  // The server ends the old walsender after its wal_sender_timeout; walcast takes over
  // the slot through a fresh connection.
  await waitFor(async () => (await readyz(port)).status === 200, 20_000, '/readyz 200 again')
  t.ok(proxy.pairs.filter((p) => p.replication).length >= 2, 'streaming again on a new replication connection')
  await burst.stop()
  const committed = await committedNotificationIds(pool)
  t.ok(committed.length >= 200, `${committed.length} committed changes`)
  await waitFor(() => notificationsPublished().length >= committed.length, 30_000, 'every change published')
  t.same(await historyNotificationIds(pool), committed, 'the history holds every committed change once, in order')
  t.same(notificationsPublished(), committed, 'each published once, in order')
  t.ok(lines().some((l) => l.includes('WALCAST_REPLICATION_TIMEOUT')), 'the dropped connection was logged with its reason')
})

t.test('wal_sender_timeout as SHOW prints it', async (t) => {
  t.same(['1min', '60s', '500ms', '0', '2h', '250'].map(parseServerDuration), [60_000, 60_000, 500, 0, 7_200_000, 250])
  t.throws(() => parseServerDuration('soon'), /unexpected duration/)
})
