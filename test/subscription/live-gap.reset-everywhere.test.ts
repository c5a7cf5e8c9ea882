import t, { type Test } from 'tap'
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts'
import { openSse, startFeedService, type SseReader } from '../helpers/feed.ts'
import { waitForHistory } from '../helpers/service.ts'
import { adminToken, signToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'
import { connectWs, type ServerFrame } from '../helpers/ws-client.ts'
import { seedEscrow, waitPublished } from '../helpers/escrow-fixture.ts'

// A TRUNCATE removes rows without a row change each: a client holding them cannot be told
// what went. The ingest records a gap (test/ingest/truncate-records-gap.test.ts); here the
// clients: every live one is reset at once and stays subscribed, polling resets any
// position before the gap, and access lost with the truncated rows is taken back.

const EVENT_ID = /^[0-9a-f]{16}-[0-7][0-9a-f]{7}$/

interface Page {
  events: ServerFrame[]
  next: string
  reset: boolean
  reason?: string
}

/** Every SSE message as the frame it carries, with its `event:` name as `sse`. */
const sseFrames = (stream: SseReader): ServerFrame[] => stream.messages.map((m) => ({ sse: m.event, ...(JSON.parse(m.data) as ServerFrame) }))
const label = (f: ServerFrame): string => (f.op === 'event' ? `${f.topic} ${f.type}:${String(f.data?.to ?? f.data?.title ?? '')}` : `${f.topic} ${f.op}${f.reason ? `:${f.reason}` : ''}`)

async function published(service: { hub: { lastId(): string | undefined } }, tdb: TestDatabase, n: number): Promise<string> {
  const newest = (await waitForHistory(tdb, n)).at(-1)!.id
  await waitFor(() => (service.hub.lastId() ?? '') >= newest, 10_000, 'the events published')
  return newest
}

function poller(t: Test, url: string, token: string): (query: string) => Promise<Page> {
  return async (query) => {
    const response = await fetch(`${url}/v1/events?${query}`, { headers: { authorization: `Bearer ${token}` } })
    t.equal(response.status, 200, `GET /v1/events?${query}`)
    return (await response.json()) as Page
  }
}

t.test('I6: a TRUNCATE of a tracked table resets live WebSocket and SSE subscribers (stream_gap, with the head); they stay live; polling from before it resets', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service, url } = await startFeedService(t, tdb)
  await seedEscrow(tdb, [[1, 'Ada', 'buyer']])
  await tdb.query(`INSERT INTO notifications (user_id, kind, title) VALUES (1, 'k', 'before')`)
  const before = await waitPublished(service, tdb, 3)
  const token = await signToken('1')
  const poll = poller(t, url, token)

  const ws = await connectWs(t, service.http.port, token)
  t.equal((await ws.subscribeAndWait('escrow:1')).op, 'subscribed')
  const sse = await openSse(`${url}/v1/sse?topic=escrow:1`, { authorization: `Bearer ${token}` })
  t.teardown(() => sse.close())
  await waitFor(() => sseFrames(sse).some((f) => f.op === 'subscribed'), 10_000, 'the SSE stream live')
  t.same(await poll(`topic=escrow:1&after=${before}`), { events: [], next: before, reset: false }, 'before the TRUNCATE the position resumes')

  await tdb.query('TRUNCATE public.notifications')
  const reset = await ws.next((f) => f.op === 'reset')
  t.same(reset, { op: 'reset', topic: 'escrow:1', reason: 'stream_gap', head: reset.head }, 'WebSocket: reset stream_gap on a topic the truncated table never fed')
  t.match(reset.head, EVENT_ID, 'it carries the head')
  t.ok(String(reset.head) >= before, 'the head is no older than what the client had')
  const sseReset = await waitFor(() => sseFrames(sse).find((f) => f.op === 'reset'), 10_000, 'the SSE reset')
  t.same(sseReset, { sse: 'reset', op: 'reset', topic: 'escrow:1', reason: 'stream_gap', head: reset.head }, 'SSE: a reset control, the same head')

  await tdb.query(`UPDATE escrows SET status = 'funded' WHERE id = 1`)
  await ws.next((f) => f.op === 'event')
  await waitFor(() => sseFrames(sse).some((f) => f.op === 'event'), 10_000, 'the later event on SSE')
  t.same(ws.frames.map(label), ['escrow:1 subscribed', 'escrow:1 reset:stream_gap', 'escrow:1 escrow:status_changed:funded'], 'WebSocket: still subscribed, the later event arrives live')
  t.same(sseFrames(sse).map(label), ['escrow:1 subscribed', 'escrow:1 reset:stream_gap', 'escrow:1 escrow:status_changed:funded'], 'SSE: the same')
  t.equal(sse.ended(), false, 'the SSE stream is still open')
  const funded = ws.events().at(-1)!.id!
  t.equal(sseFrames(sse).at(-1)!.id, funded, 'the same event on both')

  // The history still holds the event before the TRUNCATE and the one after it, but not
  // what the TRUNCATE removed: a position before it cannot be proven complete.
  const gapPage = await poll(`topic=escrow:1&after=${before}`)
  t.same(gapPage, { events: [], next: funded, reset: true, reason: 'stream_gap' }, 'polling from before the TRUNCATE: reset stream_gap, next is the head')
  await tdb.query(`UPDATE escrows SET status = 'in_progress' WHERE id = 1`)
  const inProgress = (await ws.next((f) => f.op === 'event' && f.data?.to === 'in_progress')).id!
  t.same(await poll(`topic=escrow:1&after=${gapPage.next}`), { events: [ws.events().at(-1)], next: inProgress, reset: false }, 'polling on from that next gets the later event, no reset')
})

t.test('I6: the head a gap reset carries is a position the client can go on from, without another reset', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service, url } = await startFeedService(t, tdb)
  await seedEscrow(tdb, [[1, 'Ada', 'buyer']])
  const before = await waitPublished(service, tdb, 2)
  const token = await signToken('1')
  const poll = poller(t, url, token)
  const ws = await connectWs(t, service.http.port, token)
  t.equal((await ws.subscribeAndWait('escrow:1')).op, 'subscribed')
  await tdb.query('TRUNCATE public.notifications')
  const reset = await ws.next((f) => f.op === 'reset')
  t.equal(reset.reason, 'stream_gap')
  const head = String(reset.head)

  // Nothing was written since: the client is told to go on from `head` / `next`.
  const gapPage = await poll(`topic=escrow:1&after=${before}`)
  t.equal(gapPage.reset, true, 'a position before the TRUNCATE is reset')
  const again = await poll(`topic=escrow:1&after=${gapPage.next}`)
  t.same(again, { events: [], next: gapPage.next, reset: false }, 'polling from the next a reset answered is not reset again (else a poller refetches its state on every poll until some event passes)')
  const resumed = await connectWs(t, service.http.port, token)
  const answer = await resumed.subscribeAndWait('escrow:1', { since: head })
  t.same({ op: answer.op, reason: answer.reason }, { op: 'subscribed', reason: undefined }, 'a WebSocket resuming from the head of its reset is not reset again')
  const sse = await openSse(`${url}/v1/sse?topic=escrow:1`, { authorization: `Bearer ${token}`, 'last-event-id': head })
  t.teardown(() => sse.close())
  const first = await waitFor(() => sseFrames(sse)[0], 10_000, 'the SSE stream to answer')
  t.same({ op: first.op, reason: first.reason }, { op: 'subscribed', reason: undefined }, 'nor an SSE stream resuming from it')
})

t.test('I6, I7: a TRUNCATE of escrow_parties revokes a non-admin party\'s escrow on the WebSocket and SSE (access asked again at the TRUNCATE); an admin keeps it', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service, url } = await startFeedService(t, tdb)
  await seedEscrow(tdb, [[1, 'Ada', 'buyer'], [99, 'Admin', 'arbiter']])
  await waitPublished(service, tdb, 3)
  const partyToken = await signToken('1')
  const adminTok = await adminToken('99')

  const partyWs = await connectWs(t, service.http.port, partyToken)
  const adminWs = await connectWs(t, service.http.port, adminTok)
  for (const [client, topics] of [[partyWs, ['escrow:1', 'user:1']], [adminWs, ['escrow:1', 'user:99']]] as const) {
    for (const topic of topics) t.equal((await client.subscribeAndWait(topic)).op, 'subscribed', topic)
  }
  const partySse = await openSse(`${url}/v1/sse?topic=escrow:1&topic=user:1`, { authorization: `Bearer ${partyToken}` })
  const adminSse = await openSse(`${url}/v1/sse?topic=escrow:1&topic=user:99`, { authorization: `Bearer ${adminTok}` })
  t.teardown(() => { partySse.close(); adminSse.close() })
  for (const sse of [partySse, adminSse]) await waitFor(() => sseFrames(sse).filter((f) => f.op === 'subscribed').length === 2, 10_000, 'SSE live on both topics')

  await tdb.query('TRUNCATE public.escrow_parties')
  await partyWs.next((f) => f.op === 'unsubscribed')
  await waitFor(() => sseFrames(partySse).some((f) => f.op === 'unsubscribed'), 10_000, 'the party\'s SSE revocation')
  await adminWs.next((f) => f.op === 'reset' && f.topic === 'escrow:1')
  await waitFor(() => sseFrames(adminSse).some((f) => f.op === 'reset' && f.topic === 'escrow:1'), 10_000, 'the admin\'s SSE reset')

  // Later: an event of the escrow, then one for each user as a marker that it has passed.
  await tdb.query(`UPDATE escrows SET status = 'funded' WHERE id = 1`)
  await tdb.query(`INSERT INTO notifications (user_id, kind, title) VALUES (1, 'k', 'marker'), (99, 'k', 'marker')`)
  await partyWs.next((f) => f.op === 'event' && f.topic === 'user:1')
  await adminWs.next((f) => f.op === 'event' && f.topic === 'user:99')
  for (const sse of [partySse, adminSse]) await waitFor(() => sseFrames(sse).some((f) => f.op === 'event' && f.topic?.startsWith('user:')), 10_000, 'the marker on SSE')

  const escrowOnly = (frames: ServerFrame[]): string[] => frames.filter((f) => f.topic === 'escrow:1').map(label)
  // Access is asked again at the TRUNCATE itself, before anything after it is published;
  // the reset comes at the commit, when the party no longer holds the escrow.
  t.same(escrowOnly(partyWs.frames), ['escrow:1 subscribed', 'escrow:1 unsubscribed:revoked'], 'WebSocket party: revoked, then nothing of the escrow')
  t.same(escrowOnly(sseFrames(partySse)), ['escrow:1 subscribed', 'escrow:1 unsubscribed:revoked'], 'SSE party: the same')
  t.same(partyWs.frames.find((f) => f.op === 'unsubscribed'), { op: 'unsubscribed', topic: 'escrow:1', reason: 'revoked' })
  t.same(sseFrames(partySse).find((f) => f.op === 'unsubscribed'), { sse: 'unsubscribed', op: 'unsubscribed', topic: 'escrow:1', reason: 'revoked' })
  t.ok(partyWs.frames.some((f) => f.op === 'reset' && f.topic === 'user:1'), 'its user topic was reset too')
  t.equal(partySse.ended(), false, 'the party\'s SSE stream goes on with its user topic')
  t.same(escrowOnly(adminWs.frames), ['escrow:1 subscribed', 'escrow:1 reset:stream_gap', 'escrow:1 escrow:status_changed:funded'], 'WebSocket admin: reset, still subscribed, the later event arrives')
  t.same(escrowOnly(sseFrames(adminSse)), ['escrow:1 subscribed', 'escrow:1 reset:stream_gap', 'escrow:1 escrow:status_changed:funded'], 'SSE admin: the same')

  const status = async (token: string): Promise<number> => (await fetch(`${url}/v1/events?topic=escrow:1`, { headers: { authorization: `Bearer ${token}` } })).status
  t.equal(await status(partyToken), 403, 'polling: the former party is refused')
  t.equal(await status(adminTok), 200, 'the admin is not')
})
