import t from 'tap'
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts'
import { openSse, startFeedService, type SseReader } from '../helpers/feed.ts'
import { waitForHistory } from '../helpers/service.ts'
import { signToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'
import { connectWs } from '../helpers/ws-client.ts'

// The same position gets the same answer on the WebSocket, SSE and polling: one resume
// rule (src/subscription/resume-rule.ts) behind three adapters.

const AHEAD = 'ffffffffffffffff-00000000'
// The sequence is an int4 in the history: 0x80000000 cannot be stored, so it is no id.
const BAD_SEQ = '0000000000000001-80000000'

interface Frame {
  op: string
  topic?: string
  reason?: string
  head?: string
  id?: string
  ref?: string
  data?: Record<string, unknown>
  [key: string]: unknown
}

interface Page {
  events: Frame[]
  next: string
  reset: boolean
  reason?: string
}

/** Every SSE message as the frame it carries (`event:` kept aside as `sse`). */
const sseFrames = (stream: SseReader): Frame[] => stream.messages.map((m) => JSON.parse(m.data) as Frame)

async function seed(tdb: TestDatabase): Promise<string> {
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'Ada')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency, status) VALUES (1, 'A', 1, 'EUR', 'draft')`)
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role, accepted_at) VALUES (1, 1, 'buyer', now())`)
  const rows = await waitForHistory(tdb, 2)
  return rows.at(-1)!.id
}

t.test('I4: a resume id ahead of the head gets reset unknown_position with the head, then live, on the WebSocket, SSE and polling', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service, url } = await startFeedService(t, tdb)
  const newest = await seed(tdb)
  await waitFor(() => service.hub.lastId() === newest, 10_000, 'the seed published')
  const head = service.hub.lastId()!
  const token = await signToken('1')
  const auth = { authorization: `Bearer ${token}` }

  const ws = await connectWs(t, service.http.port, token)
  ws.subscribe('escrow:1', { since: AHEAD, ref: 'r' })
  await ws.next((f) => f.op === 'subscribed')

  const sse = await openSse(`${url}/v1/sse?topic=escrow:1`, { ...auth, 'last-event-id': AHEAD })
  t.teardown(() => sse.close())
  t.equal(sse.status, 200, 'SSE opens the stream')
  await waitFor(() => sseFrames(sse).some((f) => f.op === 'subscribed'), 10_000, 'the SSE stream to go live')

  const poll = async (query: string): Promise<Page> => {
    const response = await fetch(`${url}/v1/events?${query}`, { headers: auth })
    t.equal(response.status, 200, query)
    return (await response.json()) as Page
  }
  const ahead = await poll(`topic=escrow:1&after=${AHEAD}`)
  t.same(ahead, { events: [], next: head, reset: true, reason: 'unknown_position' }, 'polling: reset, and next is the head, not the bogus id echoed back')

  await tdb.query(`UPDATE escrows SET status = 'funded' WHERE id = 1`)
  await ws.next((f) => f.op === 'event')
  await waitFor(() => sseFrames(sse).some((f) => f.op === 'event'), 10_000, 'the live event on SSE')

  t.same(ws.frames.map((f) => ({ op: f.op, reason: f.reason, head: f.head, to: f.data?.to })), [
    { op: 'reset', reason: 'unknown_position', head, to: undefined },
    { op: 'subscribed', reason: undefined, head, to: undefined },
    { op: 'event', reason: undefined, head: undefined, to: 'funded' },
  ], 'WebSocket: reset at the head, subscribed there, then the next event live')
  t.same(ws.frames[0], { op: 'reset', topic: 'escrow:1', reason: 'unknown_position', head })
  t.same(ws.frames[1], { op: 'subscribed', topic: 'escrow:1', ref: 'r', head })

  t.same(sse.messages.map((m) => m.event), ['reset', 'subscribed', 'escrow:status_changed'], 'SSE: a reset control, subscribed, then the next event live')
  t.same(sseFrames(sse)[0], { op: 'reset', topic: 'escrow:1', reason: 'unknown_position', head })
  t.same(sseFrames(sse)[1], { op: 'subscribed', topic: 'escrow:1', head })
  t.equal(sseFrames(sse)[2]!.data?.to, 'funded')

  const later = await waitFor(async () => {
    const page = await poll(`topic=escrow:1&after=${ahead.next}`)
    return page.events.length > 0 ? page : undefined
  }, 10_000, 'the later event by polling')
  t.same(later.events.map((e) => e.data?.to), ['funded'], 'polling on from that next gets the later event')
  t.equal(later.reset, false)
  t.equal(later.events[0]!.id, ws.events()[0]!.id, 'the same event the live transports got')
})

t.test('I11: an id whose sequence does not fit the history (>= 0x80000000) is a bad_request on the WebSocket, SSE and polling, never 1011 or 500', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service, url } = await startFeedService(t, tdb)
  await seed(tdb)
  const token = await signToken('1')
  const auth = { authorization: `Bearer ${token}` }

  const ws = await connectWs(t, service.http.port, token)
  const refused = await ws.subscribeAndWait('escrow:1', { since: BAD_SEQ, ref: 'bad' })
  t.match(refused, { op: 'error', code: 'bad_request', ref: 'bad', message: String }, 'WebSocket: error bad_request')
  ws.send({ op: 'ping', ref: 'still-there' })
  await ws.next((f) => f.op === 'pong')
  t.equal(ws.closeInfo(), undefined, 'the socket stays open (no 1011)')
  // The largest sequence that fits is an id: accepted, replayed, live.
  const boundary = await ws.subscribeAndWait('escrow:1', { since: '0000000000000001-7fffffff', ref: 'ok' })
  t.match(boundary, { op: 'subscribed', topic: 'escrow:1', ref: 'ok' }, 'a sequence of 7fffffff is accepted')
  t.same(ws.events('escrow:1').map((e) => e.type).sort(), ['escrow:party_joined', 'escrow:status_changed'], 'and replays the topic from there')

  for (const [what, path, headers] of [
    ['Last-Event-ID', '/v1/sse?topic=escrow:1', { ...auth, 'last-event-id': BAD_SEQ }],
    ['lastEventId', `/v1/sse?topic=escrow:1&lastEventId=${BAD_SEQ}`, auth],
  ] as const) {
    const sse = await openSse(`${url}${path}`, headers)
    t.equal(sse.status, 400, `SSE ${what}: 400`)
    t.match(sse.body, { error: { code: 'bad_request', message: String } }, `SSE ${what}: bad_request`)
  }

  const response = await fetch(`${url}/v1/events?topic=escrow:1&after=${BAD_SEQ}`, { headers: auth })
  t.equal(response.status, 400, 'polling: 400')
  t.match(await response.json(), { error: { code: 'bad_request', message: String } }, 'polling: bad_request')

  ws.send({ op: 'ping', ref: 'after' })
  await ws.next((f) => f.op === 'pong' && f.ref === 'after')
  t.equal(ws.closeInfo(), undefined, 'nothing took the connection down')
  t.equal(service.ingest.status().state, 'streaming', 'nor the service')
})
