import { Redis } from 'ioredis'
import t from 'tap'
import { spawnNode, type WalcastNode } from '../helpers/cluster.ts'
import { createTestDatabase } from '../helpers/db.ts'
import { startTestRedis } from '../helpers/redis.ts'
import { signToken } from '../helpers/tokens.ts'
import { sleep, waitFor } from '../helpers/wait.ts'
import { connectWs, type ServerFrame, type TestWsClient } from '../helpers/ws-client.ts'

const CATALOG = 'test/fixtures/catalog-chat.ts'
const TTL_MS = 1500

const ready = async (node: WalcastNode): Promise<boolean> => (await node.get('/readyz')).status === 200
const changes = (client: TestWsClient): string[] => client.frames.filter((f) => f.op === 'presence' && f.users === undefined).map((f) => f.joined !== undefined ? `+${f.joined}` : `-${f.left as string}`)

t.test('I16: across nodes over Redis, ephemeral messages and presence reach every node; a node killed with -9 has its users leave within the presence TTL', async (t) => {
  const tdb = await createTestDatabase(t, { prepared: false })
  const redis = await startTestRedis(t)
  const env = { WALCAST_CATALOG: CATALOG, WALCAST_PRESENCE_TTL: `${TTL_MS}ms` }
  const a = await spawnNode(t, tdb, redis.url, env)
  await waitFor(() => a.process.stdout().includes('replication streaming'), 60_000, 'A ingesting')
  const b = await spawnNode(t, tdb, redis.url, env)
  await waitFor(() => ready(b), 60_000, 'B following the bus')
  await tdb.query(`INSERT INTO chat.rooms (id, title) VALUES (1, 'one')`)
  await tdb.query(`INSERT INTO chat.members (room_id, user_id) VALUES (1, 10), (1, 11), (1, 12)`)

  const alice = await connectWs(t, a.port, await signToken('10'))
  t.equal((await alice.subscribeAndWait('chat:1')).op, 'subscribed')
  const bob = await connectWs(t, b.port, await signToken('11'))
  t.equal((await bob.subscribeAndWait('chat:1')).op, 'subscribed')
  await alice.next((f) => f.op === 'presence' && f.joined === '11', 10_000)
  bob.send({ op: 'presence', topic: 'chat:1', ref: 'who' })
  t.same((await bob.next((f) => f.ref === 'who')).users, ['10', '11'], 'a node lists the users of the other node too')

  alice.send({ op: 'publish', topic: 'chat:1', type: 'chat:typing', data: { n: 1 } })
  const typing = await bob.next((f) => f.op === 'ephemeral', 10_000)
  t.same([typing.topic, typing.type, typing.data, typing.from], ['chat:1', 'chat:typing', { n: 1 }, '10'], 'a message crosses to the other node')
  bob.send({ op: 'publish', topic: 'chat:1', type: 'chat:stopped-typing' })
  const back = await alice.next((f) => f.op === 'ephemeral', 10_000)
  t.same([back.type, back.from], ['chat:stopped-typing', '11'], 'and back')

  // Bob opens a second tab on A: still one presence, and closing it changes nothing.
  const bobOnA = await connectWs(t, a.port, await signToken('11'))
  t.equal((await bobOnA.subscribeAndWait('chat:1')).op, 'subscribed')
  await bobOnA.close()
  alice.send({ op: 'presence', topic: 'chat:1', ref: 'who2' })
  t.same((await alice.next((f) => f.ref === 'who2')).users, ['10', '11'], 'bob is still there through node B')
  await sleep(TTL_MS / 2)
  t.same(changes(alice), ['+11'], 'a second tab on another node is no second presence')

  // Nothing ephemeral in the durable bus stream or the history.
  const client = new Redis(redis.url)
  t.teardown(() => client.disconnect())
  const entries = await client.xrange(`walcast:${tdb.slot}:bus`, '-', '+')
  t.notOk(JSON.stringify(entries).includes('typing'), 'the bus stream carries no ephemeral message')
  const stored = await tdb.query(`SELECT count(*)::int AS n FROM walcast.events WHERE type LIKE '%typing%'`)
  t.equal(stored.rows[0]!.n, 0, 'nor does the history')
  const members = await client.zrange(`walcast:${tdb.slot}:bus:presence:chat:1`, 0, -1)
  t.equal(members.length, 2, 'presence lives in Redis, one entry per node and user')

  b.process.kill('SIGKILL')
  t.equal(await b.process.exited, 'SIGKILL', 'node B died without a word')
  const killedAt = Date.now()
  await bob.closed
  const left = await alice.next((f: ServerFrame) => f.op === 'presence' && f.left === '11', TTL_MS * 4)
  const after = Date.now() - killedAt
  t.same(left, { op: 'presence', topic: 'chat:1', left: '11' })
  t.ok(after <= TTL_MS + TTL_MS / 3 + 1000, `bob left ${after} ms after his node died (TTL ${TTL_MS} ms, checked every ${TTL_MS / 3} ms)`)
  alice.send({ op: 'presence', topic: 'chat:1', ref: 'who3' })
  t.same((await alice.next((f) => f.ref === 'who3')).users, ['10'])
  await waitFor(async () => (await client.zrangebyscore(`walcast:${tdb.slot}:bus:presence:chat:1`, Date.now(), '+inf')).length === 1, 5000, 'B\'s entry expired in Redis')
  t.same(changes(alice), ['+11', '-11'])

  // Redis goes away: ephemeral messages stay on the node they were sent to, events flow on.
  const carol = await connectWs(t, a.port, await signToken('12'))
  t.equal((await carol.subscribeAndWait('chat:1')).op, 'subscribed')
  await alice.next((f) => f.op === 'presence' && f.joined === '12')
  client.disconnect()
  await redis.stop()
  await sleep(TTL_MS / 2)
  alice.send({ op: 'publish', topic: 'chat:1', type: 'chat:typing', data: { n: 2 } })
  const local = await carol.next((f) => f.op === 'ephemeral' && (f.data as { n?: number } | null)?.n === 2)
  t.equal(local.from, '10', 'a message still reaches the sender\'s own node while Redis is down')
  await tdb.query(`INSERT INTO chat.messages (id, room_id, user_id, body) VALUES (1, 1, 12, 'durable')`)
  await alice.next((f) => f.op === 'event' && f.type === 'chat:message', 15_000)
  alice.send({ op: 'presence', topic: 'chat:1', ref: 'who4' })
  t.same((await alice.next((f) => f.ref === 'who4')).users, ['10', '12'], 'presence of this node\'s users holds')
  await redis.start()
  const metrics = (await a.get('/metrics')).text
  t.match(metrics, /^walcast_gateway_ephemeral_accepted_total 2$/m, 'A accepted two messages from its clients')
  t.match(metrics, /^walcast_gateway_ephemeral_refused_total 0$/m)
})
