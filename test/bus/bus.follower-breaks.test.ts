import t from 'tap'
import { Redis } from 'ioredis'
import { startService } from '../../src/service.ts'
import { decodeEntry, encodeEntry, ENTRY_FIELD } from '../../src/bus/entry.ts'
import { seedNotification, startIngestingNode, waitForAllIngested, waitForNodeHead } from '../helpers/cluster.ts'
import { capturingLogger } from '../helpers/log.ts'
import { historyRows } from '../helpers/service.ts'
import { authEnv, signToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'
import { connectWs } from '../helpers/ws-client.ts'

t.test('I12: entries that do not follow (another run\'s entry out of turn, an unreadable one) make a following node read the history first; its clients still get every event once, in order', async (t) => {
  const { tdb, redis, a } = await startIngestingNode(t)
  // The gateway in this process: the follower's own code paths are measured here.
  const stream = `walcast:${tdb.slot}:bus`
  const logged = capturingLogger('info')
  const gateway = await startService(tdb.config(authEnv({ WALCAST_REDIS_URL: redis.url, WALCAST_ROLE: 'gateway', WALCAST_BUS_FALLBACK_POLL: '100ms' })), logged.log)
  const followerLog = (): string[] => logged.lines().filter((l) => l.includes('"part":"follower"'))
  t.teardown(() => gateway.stop())
  await waitFor(() => gateway.bus?.stats().follower === 'following', 30_000, 'the gateway follows the bus')
  t.equal(gateway.ingest.status().state, 'off', 'a gateway never ingests')

  const seed = await seedNotification(tdb)
  await waitForNodeHead({ base: `http://127.0.0.1:${gateway.http.port}` }, await signToken('1'), 'user:1', seed)
  const client = await connectWs(t, gateway.http.port, await signToken('1'))
  await client.subscribeAndWait('user:1', { since: seed })
  const redisClient = new Redis(redis.url)
  t.teardown(() => redisClient.disconnect())
  const insert = (n: number) => tdb.query(`INSERT INTO notifications (user_id, kind, title) SELECT 1, 'k', 'n' || g FROM generate_series(1, ${n}) g`)

  await insert(3)
  await waitFor(() => client.events().length >= 3, 30_000, 'three events over the bus')
  // Two unreadable entries (each read from the history instead), then a copy of the newest
  // entry under another run: applied as a fresh start after those reads (it holds nothing
  // new), so the real run's next entry no longer follows: a break.
  const fields = (await redisClient.xrevrange(stream, '+', '-', 'COUNT', 1))[0]![1]
  const newest = decodeEntry(fields[fields.indexOf(ENTRY_FIELD) + 1]!)
  await redisClient.xadd(stream, '*', ENTRY_FIELD, 'not an entry')
  await redisClient.xadd(stream, '*', 'unknown-field', 'x')
  await redisClient.xadd(stream, '*', ENTRY_FIELD, encodeEntry({ ...newest, epoch: 'another-run', n: 7 }))
  await insert(3)
  await waitForAllIngested(tdb)
  const expected = (await historyRows(tdb)).map((r) => r.id).filter((id) => id > seed)
  await waitFor(() => client.events().length >= expected.length, 30_000, 'every event')
  // The fill at an unreadable entry may already deliver the last events: wait for the breaks themselves.
  await waitFor(() => (gateway.bus!.stats().historyReads.sequence ?? 0) >= 1, 15_000, 'the breaks counted')
  t.same(client.events().map((f) => f.id), expected, 'every event once, in order')
  t.same(client.frames.filter((f) => f.op === 'reset'), [], 'no reset: nothing was missing from the history')
  const reads = gateway.bus!.stats().historyReads
  t.ok(reads.sequence! >= 1, 'the real run\'s entry after the other run\'s was a break', { reads })
  t.ok(reads.malformed! >= 2, 'the unreadable entries too', { reads })
  const metrics = await (await fetch(`http://127.0.0.1:${gateway.http.port}/metrics`)).text()
  t.match(metrics, /^walcast_bus_history_reads_total\{reason="malformed"\} [1-9]/m)
  t.match(metrics, /^walcast_bus_following 1$/m)
  t.ok(followerLog().some((l) => l.includes('bus chain broken')), 'the break is logged with its reason')
  t.ok(followerLog().some((l) => l.includes('cannot read')), 'and the unreadable entry')
})
