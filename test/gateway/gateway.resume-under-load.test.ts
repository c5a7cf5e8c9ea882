import t, { type Test } from 'tap'
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts'
import { seedHistory } from '../helpers/history-seed.ts'
import { startTestService } from '../helpers/service.ts'
import { adminToken, authEnv, signToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'
import { startWriter } from '../helpers/writer.ts'
import { connectWs, type TestWsClient } from '../helpers/ws-client.ts'

const EVENT_ID = /^[0-9a-f]{16}-[0-7][0-9a-f]{7}$/

async function topicIds(tdb: TestDatabase, topic: string): Promise<string[]> {
  const rows = await tdb.query<{ id: string }>(`
    SELECT lpad(to_hex((commit_lsn - '0/0')::bigint), 16, '0') || '-' || lpad(to_hex(seq), 8, '0') AS id
    FROM walcast.event_topics WHERE topic = $1 ORDER BY commit_lsn, seq`, [topic])
  return rows.rows.map((r) => r.id)
}

function assertExactlyOnceInOrder(t: Test, client: TestWsClient, topic: string, expected: string[], what: string): void {
  const got = client.events(topic).map((e) => e.id!)
  t.equal(got.length, expected.length, `${what}: as many events as expected (${expected.length})`)
  t.equal(new Set(got).size, got.length, `${what}: no duplicate`)
  t.ok(got.every((id, i) => i === 0 || id > got[i - 1]!), `${what}: in order`)
  t.same(got, expected, `${what}: exactly the expected ids`)
}

async function setupEscrows(tdb: TestDatabase): Promise<void> {
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'Buyer')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency, status) VALUES (1, 'A', 1, 'EUR', 'funded'), (2, 'B', 1, 'EUR', 'funded')`)
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role, accepted_at) VALUES (1, 1, 'buyer', now())`)
}

t.test('I3: replay from far back, then live, while a writer commits as fast as it can', async (t) => {
  const tdb = await createTestDatabase(t)
  // Older than anything the hub has: the replay starts in the history table.
  const seeded = await seedHistory(tdb, 'escrow:1', 3000)
  const service = await startTestService(t, tdb, authEnv({ WALCAST_WS_REPLAY_PAGE: '100' }))
  const port = service.http.port
  await setupEscrows(tdb)
  const writer = startWriter(tdb, [1, 2], { maxCommits: 1_000_000, maxMs: 60_000 })
  await waitFor(() => writer.commits() >= 200, 20_000, 'the writer to get going')

  const resumed = await connectWs(t, port, await signToken('1'))
  const live = await connectWs(t, port, await signToken('1'))
  const since = seeded[10]!
  const subscribedFrame = resumed.subscribeAndWait('escrow:1', { since, ref: 'resume' }, 60_000)
  t.equal((await live.subscribeAndWait('escrow:1', { ref: 'live' })).op, 'subscribed')
  t.equal((await subscribedFrame).op, 'subscribed')
  // Keep writing past the switch to live, then stop.
  const atSwitch = writer.commits()
  await waitFor(() => writer.commits() >= atSwitch + 400, 30_000, 'more commits after both went live')
  const commits = await writer.stop()
  t.ok(commits >= atSwitch + 400, `the writer committed ${commits} transactions, ${commits - atSwitch} of them after both subscriptions went live`)

  const all = await waitFor(async () => {
    const ids = await topicIds(tdb, 'escrow:1')
    // Seeded + the escrow's creation + its party joining + the writer's flips.
    return ids.length >= 3000 + 2 + Math.ceil(commits / 2) ? ids : undefined
  }, 30_000, 'every commit in the history')
  const expected = all.slice(all.indexOf(since) + 1)
  await waitFor(() => resumed.events('escrow:1').length >= expected.length, 30_000, 'the resumed client to catch up')
  const firstLive = live.events('escrow:1')[0]!.id!
  const liveExpected = all.slice(all.indexOf(firstLive))
  await waitFor(() => live.events('escrow:1').length >= liveExpected.length, 30_000, 'the live client to catch up')
  // Let anything extra (a duplicate) arrive before judging.
  live.send({ op: 'ping', ref: 'end' })
  resumed.send({ op: 'ping', ref: 'end' })
  await live.next((f) => f.op === 'pong')
  await resumed.next((f) => f.op === 'pong')

  assertExactlyOnceInOrder(t, resumed, 'escrow:1', expected, 'replay then live')
  const subscribedAt = resumed.frames.findIndex((f) => f.op === 'subscribed')
  t.ok(resumed.frames.slice(0, subscribedAt).filter((f) => f.op === 'event').length >= 2989, 'the replayed events came before subscribed')
  assertExactlyOnceInOrder(t, live, 'escrow:1', liveExpected, 'live only')
  t.ok(live.frames.findIndex((f) => f.op === 'subscribed') < live.frames.findIndex((f) => f.op === 'event'), 'without since: nothing before subscribed')
  t.notOk(resumed.events().some((e) => e.topic !== 'escrow:1'), 'no event of another topic')
  const stats = service.gateway.stats()
  t.ok(stats.replayRequests >= 1 && stats.replayEvents >= 2989, 'replays are counted')
})

t.test('I3: a reconnecting client gets exactly the events it missed, across a walcast restart', async (t) => {
  const tdb = await createTestDatabase(t)
  const first = await startTestService(t, tdb, authEnv())
  await setupEscrows(tdb)
  const before = await connectWs(t, first.http.port, await signToken('1'))
  t.equal((await before.subscribeAndWait('escrow:1', { since: '0000000000000000-00000000' })).op, 'subscribed')
  const writer1 = startWriter(tdb, [1, 2], { maxCommits: 100, maxMs: 20_000 })
  await writer1.done
  // The escrow's creation, its party joining, and 50 flips.
  const firstPart = await waitFor(async () => { const ids = await topicIds(tdb, 'escrow:1'); return ids.length === 52 ? ids : undefined }, 20_000, 'the first 52 events in the history')
  await waitFor(() => before.events('escrow:1').length === 52, 20_000, 'the first 52 events')
  t.same(before.events('escrow:1').map((e) => e.id), firstPart)

  // Keep writing while walcast goes down: those commits wait in the slot's WAL.
  const writer2 = startWriter(tdb, [1, 2], { maxCommits: 1000, maxMs: 20_000 })
  await waitFor(() => writer2.commits() >= 20, 10_000, 'writes in flight')
  await first.stop()
  t.equal((await before.closed).code, 1001, 'clients are told the server is going away')
  t.ok(writer2.commits() < 1000, 'the writer outlived the first walcast')
  // What a client knows when its socket closes: the last id it saw.
  const lastSeen = before.events('escrow:1').at(-1)!.id!
  const second = await startTestService(t, tdb, authEnv())
  const after = await connectWs(t, second.http.port, await signToken('1'))
  const answer = await after.subscribeAndWait('escrow:1', { since: lastSeen }, 30_000)
  t.equal(answer.op, 'subscribed')
  const commits = await writer2.done
  const all = await waitFor(async () => {
    const ids = await topicIds(tdb, 'escrow:1')
    return ids.length >= 52 + Math.ceil(commits / 2) ? ids : undefined
  }, 30_000, 'every commit in the history')
  const expected = all.slice(all.indexOf(lastSeen) + 1)
  t.ok(expected.length > 10, `the client missed ${expected.length} events while walcast was down`)
  await waitFor(() => after.events('escrow:1').length >= expected.length, 30_000, 'the missed events')
  after.send({ op: 'ping' })
  await after.next((f) => f.op === 'pong')
  assertExactlyOnceInOrder(t, after, 'escrow:1', expected, 'after the restart')
  t.same([...before.events('escrow:1'), ...after.events('escrow:1')].map((e) => e.id), all, 'before + after = the whole stream')
})

t.test('I4: reset when the stream from since cannot be proven complete', async (t) => {
  const tdb = await createTestDatabase(t)
  const old = await seedHistory(tdb, 'escrow:5', 50, { firstLsn: 0x1000, ageMs: 2 * 86_400_000 })
  const recent = await seedHistory(tdb, 'escrow:5', 50, { firstLsn: 0x2000, ageMs: 3_600_000 })
  const service = await startTestService(t, tdb, authEnv({ WALCAST_WS_REPLAY_PAGE: '7' }))
  const { pruneHistory } = await import('../../src/history/prune.ts')
  const pruned = await pruneHistory(service.database.db, { retentionMs: 86_400_000, pruneIntervalMs: 60_000, pruneBatch: 20 })
  t.equal(pruned.deleted, 50, 'the old half is pruned')
  const admin = await adminToken()
  const port = service.http.port
  const resume = async (since: string): Promise<TestWsClient> => {
    const client = await connectWs(t, port, admin)
    await client.subscribeAndWait('escrow:5', { since, ref: 's' })
    return client
  }

  const tooOld = await resume(old[10]!)
  const resetHead = (tooOld.frames[0] as { head?: unknown } | undefined)?.head
  t.match(resetHead, EVENT_ID)
  t.same(tooOld.frames, [{ op: 'reset', topic: 'escrow:5', reason: 'history_gone', head: resetHead }, { op: 'subscribed', topic: 'escrow:5', ref: 's', head: resetHead }], 'older than the horizon: reset, then live')
  const atHorizon = await resume(old[49]!)
  t.same(atHorizon.events().map((e) => e.id), recent, 'from the horizon itself everything is still there')
  const inside = await resume(recent[20]!)
  t.same(inside.events().map((e) => e.id), recent.slice(21))
  const future = await resume('ffffffffffffffff-00000000')
  t.equal(future.frames[0]!.op, 'reset', 'a position this server never issued')

  const lsnOf = (id: string): bigint => BigInt(`0x${id.slice(0, 16)}`)
  await service.history.recordGap(lsnOf(recent[30]!), lsnOf(recent[40]!), 'test')
  t.equal((await resume(recent[35]!)).frames[0]!.op, 'reset', 'across a recorded gap')
  t.equal((await resume(recent[20]!)).frames[0]!.op, 'reset', 'from before a recorded gap')
  t.same((await resume(recent[40]!)).events().map((e) => e.id), recent.slice(41), 'from the gap end on, complete again')
  t.ok(service.gateway.stats().resets >= 4)

  // After a reset the subscription is live.
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (5, 'E', 1, 'EUR')`)
  const event = await tooOld.next((f) => f.op === 'event')
  t.equal(event.type, 'escrow:status_changed')
  t.equal(event.topic, 'escrow:5')

  const bad = await connectWs(t, port, admin)
  const answer = await bad.subscribeAndWait('escrow:5', { since: 'yesterday', ref: 'bad' })
  t.same({ op: answer.op, code: answer.code, ref: answer.ref }, { op: 'error', code: 'bad_request', ref: 'bad' })
})
