import t from 'tap'
import { seedNotification, spawnNode, startIngestingNode, waitForNodeHead } from '../helpers/cluster.ts'
import { historyRows, waitForHistory } from '../helpers/service.ts'
import { signToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'
import { connectWs, type ServerFrame, type TestWsClient } from '../helpers/ws-client.ts'

/** What a WebSocket client received, compact: `event:<id>`, `reset@<head>`, … */
const trace = (client: TestWsClient): string[] =>
  client.frames.filter((f) => f.op !== 'pong').map((f: ServerFrame) => (f.op === 'event' ? `event:${f.id}` : `${f.op}@${String(f.head)}`))

t.test('I12: a TRUNCATE on the ingesting node reaches the clients of a following node in order — events before it, reset at the gap, events after it — exactly as on the ingesting node', async (t) => {
  const { tdb, redis, a } = await startIngestingNode(t)
  const c = await spawnNode(t, tdb, redis.url, { WALCAST_ROLE: 'gateway' })
  await waitFor(async () => (await c.get('/readyz')).status === 200, 60_000, 'C following the bus')

  const seed = await seedNotification(tdb)
  const token = await signToken('1')
  for (const node of [a, c]) await waitForNodeHead(node, token, 'user:1', seed)
  const onA = await connectWs(t, a.port, token)
  const onC = await connectWs(t, c.port, token)
  await onA.subscribeAndWait('user:1', { since: seed })
  await onC.subscribeAndWait('user:1', { since: seed })

  await tdb.query(`INSERT INTO notifications (user_id, kind, title) VALUES (1, 'k', 'before')`)
  await tdb.query('BEGIN; INSERT INTO notifications (user_id, kind, title) VALUES (1, \'k\', \'same transaction\'); TRUNCATE notifications; COMMIT')
  await tdb.query(`INSERT INTO notifications (user_id, kind, title) VALUES (1, 'k', 'after')`)
  const rows = await waitForHistory(tdb, 4)
  const gap = await waitFor(async () => (await tdb.query<{ mark: string }>(`
    SELECT lpad(to_hex((until_lsn - '0/0')::bigint - 1), 16, '0') || '-7fffffff' AS mark FROM walcast.gaps WHERE reason = 'truncate'`)).rows[0]?.mark, 15_000, 'the gap recorded')
  const [, before, same, after] = rows
  const expected = [`subscribed@${seed}`, `event:${before!.id}`, `event:${same!.id}`, `reset@${gap}`, `event:${after!.id}`]
  await waitFor(() => trace(onA).length >= expected.length && trace(onC).length >= expected.length, 30_000, 'both clients got the reset and the event after it')
  t.same(trace(onA), expected, 'on the ingesting node: the events before, reset at the gap mark, the event after')
  t.same(trace(onC), expected, 'on the following node: the same, in the same order')
  t.same((await historyRows(tdb)).length, 4)
  t.match((await c.get('/metrics')).text, /^walcast_bus_following 1$/m, 'C stayed on the stream throughout')
})
