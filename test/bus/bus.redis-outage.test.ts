import t from 'tap'
import { expectEveryEventOnce, seedNotification, spawnNode, startIngestingNode, waitForAllIngested } from '../helpers/cluster.ts'
import { createTestDatabase } from '../helpers/db.ts'
import { startInsertBurst } from '../helpers/insert-burst.ts'
import { freePort } from '../helpers/own-server.ts'
import { countEvents } from '../helpers/service.ts'
import { childEnv, spawnWalcast } from '../helpers/spawn.ts'
import { authEnv, signToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'
import { watchSse, watchWs, type Watcher } from '../helpers/watcher.ts'

t.test('I12: Redis killed and restarted during a burst: a gateway keeps serving every event from the history meanwhile (readyz and walcast_bus_up say the bus is down), then returns to the bus with no loss and no duplicate', async (t) => {
  const { tdb, redis, a } = await startIngestingNode(t)
  const c = await spawnNode(t, tdb, redis.url, { WALCAST_ROLE: 'gateway' })
  await waitFor(async () => (await c.get('/readyz')).status === 200, 60_000, 'C following the bus')

  const seed = await seedNotification(tdb)
  const token = await signToken('1')
  const watchers: Watcher[] = [
    await watchWs(t, c, token, 'user:1', seed),
    await watchSse(t, c, token, 'user:1', seed),
    await watchWs(t, a, token, 'user:1', seed),
  ]
  t.teardown(() => { for (const w of watchers) w.close() })
  const busUp = async (node: typeof c): Promise<string | undefined> => /^walcast_bus_up (\d)$/m.exec((await node.get('/metrics')).text)?.[1]

  const burst = startInsertBurst(tdb.url, 150)
  try {
    await waitFor(() => watchers.every((w) => w.ids().length >= 100), 60_000, 'live events over the bus')
    t.equal(await busUp(c), '1', 'walcast_bus_up 1 while Redis answers')
    await redis.stop()
    await waitFor(async () => (await c.get('/readyz')).text.includes('"bus":"down"'), 30_000, 'readyz says the bus is down')
    const readyz = await c.get('/readyz')
    t.equal(readyz.status, 200, 'the gateway stays ready: it still serves every event, from the history')
    t.match(readyz.body, { status: 'ready', bus: 'down' })
    t.equal(await busUp(c), '0', 'walcast_bus_up 0 while Redis is down')
    const atOutage = watchers[0]!.ids().length
    await waitFor(() => watchers.every((w) => w.ids().length >= atOutage + 150), 60_000, 'events keep arriving on the gateway while Redis is down')
    t.ok(c.process.stdout().includes('serving from the history'), 'the gateway logged that it serves from the history')

    await redis.start()
    await waitFor(async () => (await c.get('/readyz')).text.includes('"bus":"up"') && (await busUp(c)) === '1', 30_000, 'the bus is back')
    await waitFor(async () => /^walcast_bus_following 1$/m.test((await c.get('/metrics')).text), 30_000, 'the gateway follows the stream again')
    const back = await countEvents(tdb)
    await waitFor(async () => (await countEvents(tdb)) >= back + 150, 60_000, 'more of the burst over the bus')
  } finally {
    await burst.stop()
  }
  await waitForAllIngested(tdb)

  await expectEveryEventOnce(t, tdb, watchers, seed, 300)
  t.match((await a.get('/metrics')).text, /^walcast_bus_append_failures_total [1-9]\d*$/m, 'the ingesting node counted the appends Redis refused, and went on')
})

t.test('a node configured with a Redis that does not answer at start-up says so in one line and exits 1, without a stack trace', async (t) => {
  const tdb = await createTestDatabase(t)
  const port = await freePort()
  const child = spawnWalcast(['serve'], childEnv(tdb, authEnv({ WALCAST_REDIS_URL: `redis://user:secret-pw@127.0.0.1:${port}` })))
  t.teardown(() => child.kill('SIGKILL'))
  t.equal(await child.exited, 1, 'exit code 1')
  t.match(child.stderr(), /^walcast: BUS_UNREACHABLE: Redis at redis:\/\/user:redacted@127\.0\.0\.1:\d+ \(WALCAST_REDIS_URL\) did not answer: .*ECONNREFUSED/m)
  t.match(child.stderr(), /^hint: start Redis or fix WALCAST_REDIS_URL/m)
  t.notMatch(child.stderr() + child.stdout(), /\n\s+at /, 'no stack trace')
  t.notMatch(child.stderr() + child.stdout(), /secret-pw/, 'the password is not printed')
  t.notMatch(child.stdout(), /http listening/, 'it never served')
})
