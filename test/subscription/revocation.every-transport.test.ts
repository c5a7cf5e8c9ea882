import t, { type Test } from 'tap'
import type { Service } from '../../src/service.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts'
import { openSse, startFeedService, type SseReader } from '../helpers/feed.ts'
import { collectPublished, waitForHistory } from '../helpers/service.ts'
import { adminToken, signToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'
import { connectWs, type ServerFrame, type TestWsClient } from '../helpers/ws-client.ts'
import { seedEscrow, waitPublished } from '../helpers/escrow-fixture.ts'

// The revocation cutoff (I7) on the WebSocket and SSE: a membership that ends — deleted,
// moved by a key update, or gone while the subscription is still being authorized —
// ends the subscription after the revoking event; an admin reads by role and keeps it.

/** Every SSE message as the frame it carries, with its `event:` name as `sse`. */
const sseFrames = (stream: SseReader): ServerFrame[] => stream.messages.map((m) => ({ sse: m.event, ...(JSON.parse(m.data) as ServerFrame) }))
const label = (f: ServerFrame): string => (f.op === 'event' ? `${f.type}:${String(f.data?.to ?? f.data?.userId ?? '')}` : `${f.op}${f.reason ? `:${f.reason}` : ''}`)
const ofTopic = (frames: ServerFrame[], topic: string): string[] => frames.filter((f) => f.topic === topic).map(label)


/** A WebSocket and an SSE stream of one user on its escrow and its user topic, both live. */
async function liveOnBoth(t: Test, service: Service, url: string, token: string, userId: string, escrow: string): Promise<{ ws: TestWsClient; sse: SseReader }> {
  const ws = await connectWs(t, service.http.port, token)
  for (const topic of [escrow, `user:${userId}`]) t.equal((await ws.subscribeAndWait(topic)).op, 'subscribed', `user ${userId}: WebSocket on ${topic}`)
  const sse = await openSse(`${url}/v1/sse?topic=${escrow}&topic=user:${userId}`, { authorization: `Bearer ${token}` })
  t.teardown(() => sse.close())
  await waitFor(() => sseFrames(sse).filter((f) => f.op === 'subscribed').length === 2, 10_000, `user ${userId}: SSE live`)
  return { ws, sse }
}

/** Waits for the marker notification on both: everything committed before it has passed. */
async function markerSeen(userId: string, ws: TestWsClient, sse: SseReader): Promise<void> {
  await ws.next((f) => f.op === 'event' && f.topic === `user:${userId}` && f.data?.title === 'marker', 15_000)
  await waitFor(() => sseFrames(sse).some((f) => f.op === 'event' && f.topic === `user:${userId}` && f.data?.title === 'marker'), 15_000, `the marker on user ${userId}'s SSE stream`)
}

t.test('I7: a party_left while the subscription is being authorized revokes it on the WebSocket and SSE; nothing later of the escrow arrives', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service, url } = await startFeedService(t, tdb)
  await seedEscrow(tdb, [[1, 'Ada', 'buyer'], [2, 'Sam', 'seller']])
  await waitPublished(service, tdb, 3)
  const seen = collectPublished(service)

  // The service's own authorizer, held after its real answer for user 1 on escrow:1.
  const canRead = service.authorizer.canRead.bind(service.authorizer)
  let hold: { reached: () => void; gate: Promise<void> } | undefined
  service.authorizer.canRead = async (principal, topic) => {
    const allowed = await canRead(principal, topic)
    const held = hold
    if (held !== undefined && principal.userId === '1' && topic === 'escrow:1') {
      hold = undefined
      held.reached()
      await held.gate
    }
    return allowed
  }
  const holdNext = (): { reached: Promise<void>; release: () => void } => {
    let reached!: () => void
    let release!: () => void
    const gate = new Promise<void>((resolve) => { release = resolve })
    const reachedP = new Promise<void>((resolve) => { reached = resolve })
    hold = { reached, gate }
    return { reached: reachedP, release }
  }
  const token = await signToken('1')

  // SSE: the stream opens while the party leaves.
  const sseHold = holdNext()
  const opening = openSse(`${url}/v1/sse?topic=escrow:1&topic=user:1`, { authorization: `Bearer ${token}` })
  await sseHold.reached
  // WebSocket: a subscribe held the same way, on a socket already open.
  const ws = await connectWs(t, service.http.port, token)
  t.equal((await ws.subscribeAndWait('user:1')).op, 'subscribed')
  const wsHold = holdNext()
  ws.subscribe('escrow:1', { ref: 'held' })
  await wsHold.reached

  await tdb.query(`DELETE FROM escrow_parties WHERE escrow_id = 1 AND user_id = 1`)
  await waitFor(() => seen.some((e) => e.type === 'escrow:party_left'), 15_000, 'the party_left published')
  sseHold.release()
  wsHold.release()
  const sse = await opening
  t.teardown(() => sse.close())
  t.equal(sse.status, 200, 'the stream had been let in')
  await ws.next((f) => f.op === 'unsubscribed' || (f.op === 'subscribed' && f.topic === 'escrow:1'))

  await tdb.query(`UPDATE escrows SET status = 'funded' WHERE id = 1`)
  await tdb.query(`INSERT INTO notifications (user_id, kind, title) VALUES (1, 'k', 'marker')`)
  await markerSeen('1', ws, sse)
  t.same(ofTopic(ws.frames, 'escrow:1'), ['unsubscribed:revoked'], 'WebSocket: revoked, never subscribed, no event of the escrow')
  t.same(ws.frames.find((f) => f.topic === 'escrow:1'), { op: 'unsubscribed', topic: 'escrow:1', reason: 'revoked' })
  t.same(ofTopic(sseFrames(sse), 'escrow:1'), ['unsubscribed:revoked'], 'SSE: revoked, no event of the escrow')
  t.same(ofTopic(sseFrames(sse), 'user:1'), ['subscribed', 'notification:new:'], 'the stream goes on with the user topic')
  t.equal(sse.ended(), false)
})

t.test('I7: an admin who is also a party keeps the escrow on its own party_left (WebSocket and SSE); a non-admin party is revoked after its own', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service, url } = await startFeedService(t, tdb)
  await seedEscrow(tdb, [[1, 'Ada', 'buyer'], [99, 'Admin', 'arbiter']])
  await waitPublished(service, tdb, 3)
  const party = await liveOnBoth(t, service, url, await signToken('1'), '1', 'escrow:1')
  const admin = await liveOnBoth(t, service, url, await adminToken('99'), '99', 'escrow:1')

  await tdb.query(`DELETE FROM escrow_parties WHERE escrow_id = 1`)
  await tdb.query(`UPDATE escrows SET status = 'funded' WHERE id = 1`)
  await tdb.query(`INSERT INTO notifications (user_id, kind, title) VALUES (1, 'k', 'marker'), (99, 'k', 'marker')`)
  await markerSeen('1', party.ws, party.sse)
  await markerSeen('99', admin.ws, admin.sse)

  // The two party_left events share a transaction; their order is the database's.
  const everything = ofTopic(admin.ws.frames, 'escrow:1')
  t.same([...everything].sort(), ['escrow:party_left:1', 'escrow:party_left:99', 'escrow:status_changed:funded', 'subscribed'], 'WebSocket admin: both leavings and the later event, no unsubscribed')
  t.equal(everything.at(-1), 'escrow:status_changed:funded', 'the later event arrives after its own party_left')
  t.same(ofTopic(sseFrames(admin.sse), 'escrow:1'), everything, 'SSE admin: the same')
  const upToOwn = everything.slice(0, everything.indexOf('escrow:party_left:1') + 1)
  t.same(ofTopic(party.ws.frames, 'escrow:1'), [...upToOwn, 'unsubscribed:revoked'], 'WebSocket party: up to and including its own leaving, then revoked')
  t.same(ofTopic(sseFrames(party.sse), 'escrow:1'), [...upToOwn, 'unsubscribed:revoked'], 'SSE party: the same')
  t.equal(await (await fetch(`${url}/v1/events?topic=escrow:1`, { headers: { authorization: `Bearer ${await adminToken('99')}` } })).status, 200, 'polling: the admin still reads the escrow')
})

t.test('I7: moving a party row to another escrow (key update) revokes the old escrow on the WebSocket and SSE; nothing later of it arrives', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service, url } = await startFeedService(t, tdb)
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'Ada'), (2, 'Sam')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (1, 'A', 1, 'EUR'), (2, 'B', 1, 'EUR')`)
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role, accepted_at) VALUES (1, 1, 'buyer', now()), (1, 2, 'seller', now())`)
  await waitPublished(service, tdb, 4)
  const token = await signToken('1')
  const { ws, sse } = await liveOnBoth(t, service, url, token, '1', 'escrow:1')
  const witness = await connectWs(t, service.http.port, await signToken('2'))
  t.equal((await witness.subscribeAndWait('escrow:1')).op, 'subscribed')

  await tdb.query(`UPDATE escrow_parties SET escrow_id = 2 WHERE escrow_id = 1 AND user_id = 1`)
  await tdb.query(`UPDATE escrows SET status = 'funded' WHERE id = 1`)
  await tdb.query(`INSERT INTO notifications (user_id, kind, title) VALUES (1, 'k', 'marker')`)
  await markerSeen('1', ws, sse)
  await witness.next((f) => f.op === 'event' && f.data?.to === 'funded')

  t.same(ofTopic(witness.frames, 'escrow:1'), ['subscribed', 'escrow:party_left:1', 'escrow:status_changed:funded'], 'the remaining party sees the move as user 1 leaving, then the later event')
  t.same(ofTopic(ws.frames, 'escrow:1'), ['subscribed', 'escrow:party_left:1', 'unsubscribed:revoked'], 'WebSocket: up to and including the leaving, then revoked; not the later event')
  t.same(ofTopic(sseFrames(sse), 'escrow:1'), ['subscribed', 'escrow:party_left:1', 'unsubscribed:revoked'], 'SSE: the same')
  t.equal(sse.ended(), false, 'the SSE stream goes on with the user topic')
  const auth = { authorization: `Bearer ${token}` }
  t.equal((await fetch(`${url}/v1/events?topic=escrow:1`, { headers: auth })).status, 403, 'polling: the old escrow is refused')
  t.equal((await ws.subscribeAndWait('escrow:1', { ref: 'again' })).code, 'forbidden', 'and it cannot subscribe to it again')
  t.equal((await ws.subscribeAndWait('escrow:2', { ref: 'new' })).op, 'subscribed', 'the escrow the row moved to is readable')
})

t.test('I7: in the transaction that truncates escrow_parties, a removed party gets the events before the TRUNCATE and none after it (WebSocket and SSE); an admin gets both', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service, url } = await startFeedService(t, tdb)
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'Ada'), (99, 'Admin')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (1, 'A', 1, 'EUR')`)
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role, accepted_at) VALUES (1, 1, 'buyer', now())`)
  await waitPublished(service, tdb, 2)
  const party = await liveOnBoth(t, service, url, await signToken('1'), '1', 'escrow:1')
  const admin = await liveOnBoth(t, service, url, await adminToken('99'), '99', 'escrow:1')

  await tdb.query(`BEGIN; UPDATE escrows SET status = 'funded' WHERE id = 1; TRUNCATE public.escrow_parties; UPDATE escrows SET status = 'in_progress' WHERE id = 1; COMMIT`)
  await tdb.query(`INSERT INTO notifications (user_id, kind, title) VALUES (1, 'k', 'marker'), (99, 'k', 'marker')`)
  await markerSeen('1', party.ws, party.sse)
  await markerSeen('99', admin.ws, admin.sse)

  // Event labels start with their type (`escrow:…`); control frames with their op.
  const events = (frames: ServerFrame[]): string[] => ofTopic(frames, 'escrow:1').filter((l) => l.startsWith('escrow:'))
  for (const [name, frames] of [['WebSocket', party.ws.frames], ['SSE', sseFrames(party.sse)]] as const) {
    t.same(events(frames), ['escrow:status_changed:funded'], `${name} party: the event before the TRUNCATE, not the one after it`)
    t.equal(ofTopic(frames, 'escrow:1').at(-1), 'unsubscribed:revoked', `${name} party: then revoked`)
  }
  for (const [name, frames] of [['WebSocket', admin.ws.frames], ['SSE', sseFrames(admin.sse)]] as const) {
    const escrow = ofTopic(frames, 'escrow:1')
    t.same(events(frames), ['escrow:status_changed:funded', 'escrow:status_changed:in_progress'], `${name} admin: both events, in order`)
    t.ok(escrow.includes('reset:stream_gap'), `${name} admin: and a reset for the TRUNCATE`)
    t.notOk(escrow.includes('unsubscribed:revoked'), `${name} admin: never revoked`)
  }
})
