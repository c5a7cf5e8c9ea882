import t from 'tap'
import { createHistoryStore } from '../../src/history/store.ts'
import { gapMark } from '../../src/event-id.ts'
import { createTestDatabase } from '../helpers/db.ts'
import { startFeedService } from '../helpers/feed.ts'
import { historyRows } from '../helpers/service.ts'
import { signToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'
import { connectWs } from '../helpers/ws-client.ts'

// A history written on a server whose WAL went further than this one's (a failover to a
// lagging replica, a point-in-time restore): its last event sits at FF/100, far beyond
// this test server's WAL position.
const OLD_IDS = ['000000ff00000000-00000000', '000000ff00000100-00000000']

t.test('I2, I4, I6: a server behind the history: new ids are shifted past it, a gap is recorded, clients are reset, nothing new is dropped', async (t) => {
  const tdb = await createTestDatabase(t)
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'Ada')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (1, 'A', 1, 'EUR')`)
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role, accepted_at) VALUES (1, 1, 'buyer', now())`)
  await tdb.query(`
    WITH e AS (
      INSERT INTO walcast.events (commit_lsn, seq, topics, type, payload, committed_at)
      VALUES ('FF/0', 0, '{escrow:1}', 'escrow:status_changed', '{"escrowId":"1","from":null,"to":"funded"}', now()),
             ('FF/100', 0, '{escrow:1}', 'escrow:status_changed', '{"escrowId":"1","from":"funded","to":"in_progress"}', now())
    )
    INSERT INTO walcast.event_topics (topic, commit_lsn, seq) VALUES ('escrow:1', 'FF/0', 0), ('escrow:1', 'FF/100', 0)`)

  const { service, url } = await startFeedService(t, tdb)
  const history = createHistoryStore(tdb.database.db)
  const epoch = (await tdb.query<{ from_lsn: string; id_offset: string }>(`SELECT from_lsn::text, id_offset::text FROM walcast.epochs`)).rows
  t.equal(epoch.length, 1, 'one id epoch was started')
  const gaps = (await tdb.query<{ after_lsn: string; until_lsn: string; reason: string }>(`SELECT after_lsn::text, until_lsn::text, reason FROM walcast.gaps`)).rows
  t.same(gaps.map((g) => [g.after_lsn, g.reason]), [['FF/100', 'server_behind']], 'a gap from the last stored id, recorded for DBAs and resumes')
  const mark = gapMark(await history.lastGapEnd() as bigint)
  t.ok(mark > OLD_IDS[1]!, 'the gap ends past every stored id')

  // The events the setup inserted (before walcast started) were never streamed: what matters
  // is that what is committed from now on is stored and delivered with ids above the old ones.
  const token = await signToken('1')
  const resumed = await connectWs(t, service.http.port, token)
  resumed.subscribe('escrow:1', { since: OLD_IDS[1]! })
  const reset = await resumed.next((f) => f.op === 'reset', 15_000)
  t.same(reset, { op: 'reset', topic: 'escrow:1', reason: 'stream_gap', head: mark }, 'a client at the old head is told, and goes on from the gap\'s mark')
  t.same(await resumed.next((f) => f.op === 'subscribed', 15_000), { op: 'subscribed', topic: 'escrow:1', head: mark })

  const fromMark = await connectWs(t, service.http.port, token)
  t.same(await fromMark.subscribeAndWait('escrow:1', { since: mark }), { op: 'subscribed', topic: 'escrow:1', head: mark }, 'a client already told is not told again')

  const poll = await (await fetch(`${url}/v1/events?topic=escrow:1&after=${OLD_IDS[0]}`, { headers: { authorization: `Bearer ${token}` } })).json() as Record<string, unknown>
  t.same(poll, { events: [], next: mark, reset: true, reason: 'stream_gap' }, 'polling answers the same')

  await tdb.query(`UPDATE escrows SET status = 'completed' WHERE id = 1`)
  const live = await resumed.next((f) => f.op === 'event', 15_000)
  const alsoLive = await fromMark.next((f) => f.op === 'event', 15_000)
  t.match(live, { topic: 'escrow:1', type: 'escrow:status_changed', data: { to: 'completed' } }, 'a change committed on this server arrives live')
  t.equal(alsoLive.id, live.id)
  t.ok(String(live.id) > mark, 'with an id past the gap, so above every old id')
  const rows = await historyRows(tdb)
  t.same(rows.map((r) => r.id).slice(0, 2), OLD_IDS, 'the old history is untouched')
  t.equal(rows.filter((r) => r.id === live.id).length, 1, 'the new event is stored once, not lost in ON CONFLICT DO NOTHING')

  // A restart on the same server keeps the epoch: no second gap, ids keep increasing.
  await service.stop()
  const again = await startFeedService(t, tdb)
  t.equal((await tdb.query(`SELECT 1 FROM walcast.epochs`)).rowCount, 1, 'no new epoch after a restart')
  t.equal((await tdb.query(`SELECT 1 FROM walcast.gaps`)).rowCount, 1, 'no new gap')
  const client = await connectWs(t, again.service.http.port, token)
  t.same(await client.subscribeAndWait('escrow:1', { since: String(live.id) }), { op: 'subscribed', topic: 'escrow:1', head: String(live.id) }, 'the last live id resumes with no reset')
  await tdb.query(`UPDATE escrows SET status = 'disputed' WHERE id = 1`)
  const next = await client.next((f) => f.op === 'event', 15_000)
  t.ok(String(next.id) > String(live.id), 'ids keep increasing in the new epoch')
  await waitFor(async () => (await historyRows(tdb)).length === 4, 10_000, 'four events stored')
})
