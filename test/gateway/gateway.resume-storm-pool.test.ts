import t, { type Test } from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { lockHistory, seedHistory } from '../helpers/history-seed.ts'
import { startTestService } from '../helpers/service.ts'
import { adminToken, authEnv } from '../helpers/tokens.ts'
import { sleep, waitFor } from '../helpers/wait.ts'
import { connectWs, type TestWsClient } from '../helpers/ws-client.ts'

const TOPIC = 'escrow:1'
const SEEDED = 300

async function storm(t: Test, port: number, count: number, since: string): Promise<TestWsClient[]> {
  const token = await adminToken()
  const clients = await Promise.all(Array.from({ length: count }, () => connectWs(t, port, token)))
  for (const client of clients) client.subscribe(TOPIC, { since, ref: 'storm' })
  return clients
}

// The two tests share nothing (a database and a walcast each) and mostly wait on a locked
// history: run side by side, the file takes the longer one's time, not the sum.
t.jobs = 2

function settled(client: TestWsClient, expected: number): boolean {
  return client.closeInfo() !== undefined || client.frames.some((f) => f.op === 'subscribed') && client.events(TOPIC).length >= expected
}

t.test('I3: a resume storm that outlasts the pool\'s connection wait completes once and in order, with no 1011 (replay reads queue in walcast, not in the pool)', { buffered: true }, async (t) => {
  const tdb = await createTestDatabase(t)
  const seeded = await seedHistory(tdb, TOPIC, SEEDED)
  // The smallest pool: one connection for replay reads, one for the rest.
  const service = await startTestService(t, tdb, authEnv({ WALCAST_DB_POOL: '2', WALCAST_WS_REPLAY_PAGE: '50', WALCAST_WS_MAX_CONNECTIONS_PER_USER: '200' }))
  const release = await lockHistory(tdb)
  const clients = await storm(t, service.http.port, 60, seeded[0]!)
  // Longer than pg's wait for a pool connection (10 s): a read queued in the pool fails.
  await sleep(11_500)
  t.equal(clients.filter((c) => c.closeInfo() !== undefined).length, 0, 'nobody was closed while the database was slow')
  await release()
  await waitFor(() => clients.every((c) => settled(c, SEEDED - 1)), 60_000, 'every client to catch up')
  const expected = seeded.slice(1)
  const closes = clients.map((c) => c.closeInfo()?.code).filter((code) => code !== undefined)
  t.same(closes, [], 'no client was closed (no 1011)')
  for (const [i, client] of clients.entries()) {
    const ids = client.events(TOPIC).map((e) => e.id)
    if (ids.length !== expected.length || ids.some((id, k) => id !== expected[k])) t.fail(`client ${i} got ${ids.length} events, not the ${expected.length} expected in order`)
  }
  t.pass(`all ${clients.length} clients got the ${expected.length} missed events once, in order`)
})

t.test('I18: a resume that waits longer than WALCAST_DB_REPLAY_WAIT for a history read is closed with 1013 (overload), and resumes completely once the database answers', { buffered: true }, async (t) => {
  const tdb = await createTestDatabase(t)
  const seeded = await seedHistory(tdb, TOPIC, SEEDED)
  const service = await startTestService(t, tdb, authEnv({ WALCAST_DB_POOL: '2', WALCAST_WS_REPLAY_PAGE: '50', WALCAST_DB_REPLAY_WAIT: '2s', WALCAST_WS_MAX_CONNECTIONS_PER_USER: '200' }))
  const release = await lockHistory(tdb)
  const clients = await storm(t, service.http.port, 20, seeded[0]!)
  await waitFor(() => clients.filter((c) => c.closeInfo() !== undefined).length >= 19, 10_000, 'the queued resumes to be shed')
  // A polling page waits for the same turns and is answered 503 `overloaded`, not 500.
  const poll = await fetch(`http://127.0.0.1:${service.http.port}/v1/events?topic=${encodeURIComponent(TOPIC)}&after=${seeded[0]!}`, { headers: { authorization: `Bearer ${await adminToken()}` } })
  t.equal(poll.status, 503)
  t.equal(((await poll.json()) as { error: { code: string } }).error.code, 'overloaded')
  await release()
  await waitFor(() => clients.every((c) => settled(c, SEEDED - 1)), 30_000, 'every client to settle')
  const codes = clients.map((c) => c.closeInfo()?.code)
  // The one read in Postgres holds its place: it finishes after the lock.
  t.equal(codes.filter((code) => code === undefined).length, 1, 'the read already in the database completes')
  t.same([...new Set(codes.filter((code) => code !== undefined))], [1013], 'every other one is told to come back later (1013), none 1011')
  t.match(clients.find((c) => c.closeInfo() !== undefined)!.closeInfo()!.reason, /busy/)

  // Coming back (as the SDK does after its overload backoff) with the last id each one saw.
  const token = await adminToken()
  const expected = seeded.slice(1)
  for (const [i, client] of clients.entries()) {
    const seen = client.events(TOPIC).map((e) => e.id!)
    let all = seen
    if (client.closeInfo() !== undefined) {
      const again = await connectWs(t, service.http.port, token)
      const answer = await again.subscribeAndWait(TOPIC, { since: seen.at(-1) ?? seeded[0]!, ref: 'again' }, 20_000)
      t.equal(answer.op, 'subscribed')
      await waitFor(() => seen.length + again.events(TOPIC).length >= expected.length, 20_000, 'the rest')
      all = [...seen, ...again.events(TOPIC).map((e) => e.id!)]
    }
    if (all.length !== expected.length || all.some((id, k) => id !== expected[k])) t.fail(`client ${i}: ${all.length} events, not the ${expected.length} expected in order`)
  }
  t.pass('every client ended with every missed event once, in order')
  t.ok(service.subscriptions.readStats().shed >= 19, 'the shed reads are counted')
})
