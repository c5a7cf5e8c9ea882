import t from 'tap'
import { expectEveryEventOnce, seedNotification, spawnNode, startIngestingNode, waitForAllIngested, type WalcastNode } from '../helpers/cluster.ts'
import { startInsertBurst } from '../helpers/insert-burst.ts'
import { countEvents } from '../helpers/service.ts'
import { signToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'
import { watchSse, watchWs, type Watcher } from '../helpers/watcher.ts'

const ready = async (node: WalcastNode): Promise<boolean> => (await node.get('/readyz')).status === 200

t.test('I12: kill -9 the ingesting node during a burst, then a gateway node: another node takes the slot, and clients on every node (moving to another node with their last id) get every event once, in order', async (t) => {
  const { tdb, redis, a } = await startIngestingNode(t)
  const b = await spawnNode(t, tdb, redis.url)
  const c = await spawnNode(t, tdb, redis.url, { WALCAST_ROLE: 'gateway' })
  await waitFor(async () => (await ready(b)) && (await ready(c)), 60_000, 'B and C following the bus')
  t.match((await c.get('/readyz')).body, { status: 'ready', ingest: 'off', bus: 'up' }, 'a gateway is ready while it follows the bus')

  const seed = await seedNotification(tdb)
  const token = await signToken('1')
  const watchers: Watcher[] = [
    await watchWs(t, a, token, 'user:1', seed),
    await watchWs(t, b, token, 'user:1', seed),
    await watchWs(t, c, token, 'user:1', seed),
    await watchSse(t, b, token, 'user:1', seed),
    await watchSse(t, c, token, 'user:1', seed),
  ]
  t.teardown(() => { for (const w of watchers) w.close() })

  const burst = startInsertBurst(tdb.url, 150)
  try {
    await waitFor(async () => (await countEvents(tdb)) >= 200, 60_000, 'part of the burst ingested by A')
    await waitFor(() => watchers.every((w) => w.ids().length >= 50), 60_000, 'every client receiving live events')
    a.process.kill('SIGKILL')
    t.equal(await a.process.exited, 'SIGKILL', 'the ingesting node died without any chance to clean up')
    await waitFor(() => watchers[0]!.ended(), 30_000, "A's client saw its connection drop")
    await watchers[0]!.moveTo(c)
    await waitFor(() => b.process.stdout().includes('replication streaming'), 60_000, 'B took the slot')
    const atTakeover = await countEvents(tdb)
    await waitFor(async () => (await countEvents(tdb)) >= atTakeover + 200, 60_000, 'B ingesting the rest of the burst')

    c.process.kill('SIGKILL')
    t.equal(await c.process.exited, 'SIGKILL', 'a gateway node died')
    for (const w of watchers.filter((w) => w.node() === c)) {
      await waitFor(() => w.ended(), 30_000, "C's clients saw their connection drop")
      await w.moveTo(b)
    }
    const afterGateway = await countEvents(tdb)
    await waitFor(async () => (await countEvents(tdb)) >= afterGateway + 100, 60_000, 'more of the burst after the gateway died')
  } finally {
    await burst.stop()
  }
  await waitForAllIngested(tdb)

  await expectEveryEventOnce(t, tdb, watchers, seed, 500)
  const stats = (await b.get('/metrics')).text
  t.match(stats, /^walcast_bus_up 1$/m, 'the bus is up on the node that ingests now')
})
