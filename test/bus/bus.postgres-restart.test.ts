import pg from 'pg'
import t from 'tap'
import { expectEveryEventOnce, seedNotification, spawnNode, waitForAllIngested, type WalcastNode } from '../helpers/cluster.ts'
import { committedNotificationIds, historyNotificationIds, startInsertBurst } from '../helpers/insert-burst.ts'
import { startOwnPostgres } from '../helpers/own-server.ts'
import { startTestRedis } from '../helpers/redis.ts'
import { countEvents } from '../helpers/service.ts'
import { signToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'
import { watchSse, watchWs, type Watcher } from '../helpers/watcher.ts'

const streamed = (nodes: WalcastNode[]): number => nodes.reduce((n, node) => n + node.process.stdout().split('\n').filter((l) => l.includes('"replication streaming"')).length, 0)

t.test('I1, I12: Postgres stopped (immediate mode) and started again during a burst on three nodes over Redis: every node keeps running, ingest resumes, the history holds every commit once, and clients on every node get every event once, in order', async (t) => {
  // A server of its own: the shared one must not be restarted under other test files.
  const server = await startOwnPostgres(t)
  const pool = new pg.Pool({ connectionString: server.url, max: 2 })
  pool.on('error', () => {})
  t.teardown(() => pool.end())
  const db = { url: server.url, slot: 'walcast', publication: 'walcast', query: <R extends pg.QueryResultRow>(text: string) => pool.query<R>(text) }
  const redis = await startTestRedis(t)

  const a = await spawnNode(t, db, redis.url)
  await waitFor(() => a.process.stdout().includes('replication streaming'), 60_000, 'A ingesting')
  await db.query(`INSERT INTO users (id, display_name) VALUES (1, 'u')`)
  const b = await spawnNode(t, db, redis.url)
  const c = await spawnNode(t, db, redis.url, { WALCAST_ROLE: 'gateway' })
  const nodes = [a, b, c]
  await waitFor(async () => (await b.get('/readyz')).status === 200 && (await c.get('/readyz')).status === 200, 60_000, 'B and C following the bus')
  const exits: (number | string | undefined)[] = nodes.map(() => undefined)
  nodes.forEach((node, i) => { void node.process.exited.then((code) => { exits[i] = code }) })

  const seed = await seedNotification(db)
  const token = await signToken('1')
  const watchers: Watcher[] = []
  for (const node of nodes) {
    watchers.push(await watchWs(t, node, token, 'user:1', seed))
    watchers.push(await watchSse(t, node, token, 'user:1', seed))
  }
  t.teardown(() => { for (const w of watchers) w.close() })

  const burst = startInsertBurst(server.url, 150)
  try {
    await waitFor(() => watchers.every((w) => w.ids().length >= 100), 60_000, 'every client receiving live events')
    const before = streamed(nodes)
    await server.stopImmediately()
    // Started again only once the nodes have seen it gone, not in a race with their noticing.
    await waitFor(async () => (await a.get('/readyz')).status === 503, 30_000, 'the ingesting node not ready while Postgres is down')
    await server.start()
    await waitFor(() => streamed(nodes) > before, 60_000, 'a node streaming again after the restart')
    t.same(exits, [undefined, undefined, undefined], 'no node exited', { stderr: nodes.map((n) => n.process.stderr().slice(-2000)) })
    const atRestart = await waitFor(() => countEvents(db), 30_000, 'the history readable again')
    await waitFor(async () => (await countEvents(db)) >= atRestart + 200, 60_000, 'more of the burst after the restart')
  } finally {
    await burst.stop()
  }
  await waitForAllIngested(db)
  t.same(await historyNotificationIds(pool), await committedNotificationIds(pool), 'the history holds every committed notification once, in commit order')
  t.comment(`replication streaming lines per node: ${nodes.map((n) => streamed([n])).join(', ')}`)

  await expectEveryEventOnce(t, db, watchers, seed, 300)
  for (const [i, w] of watchers.entries()) t.notOk(w.ended(), `client ${i}: kept its connection through the restart`)
  t.same(exits, [undefined, undefined, undefined], 'every node still running, with the same PID')
  for (const node of [b, c]) {
    t.match((await node.get('/metrics')).text, /^walcast_bus_up 1$/m, `the bus is up on :${node.port}`)
  }
})
