import t, { type Test } from 'tap'
import { startService, type Service } from '../../src/service.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts'
import { cliEnv, runCli } from '../helpers/cli.ts'
import { openSse, startFeedService, type SseReader } from '../helpers/feed.ts'
import { silentLogger } from '../helpers/log.ts'
import { type HistoryRow, STREAMING_WAIT_MS, waitForHistory } from '../helpers/service.ts'
import { dropSlotUnderWalcast, slotRow, waitForActiveSlot } from '../helpers/slot.ts'
import { adminToken, authEnv } from '../helpers/tokens.ts'
import { sleep, waitFor } from '../helpers/wait.ts'
import { connectWs, type ServerFrame, type TestWsClient } from '../helpers/ws-client.ts'

interface Page {
  events: { id: string; topic: string }[]
  next: string
  reset: boolean
  reason?: string
}

interface GapRow {
  after_lsn: string
  until_lsn: string
  reason: string
}

async function poll(t: Test, base: string, token: string, query: string): Promise<Page> {
  const response = await fetch(`${base}/v1/events?${query}`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(response.status, 200, `GET /v1/events?${query}`)
  return (await response.json()) as Page
}

/** What a WebSocket client received, compact: `event:<id>`, `reset:<reason>@<head>`, `subscribed@<head>`. */
const wsTrace = (client: TestWsClient): string[] => client.frames.filter((f) => f.op !== 'pong').map(describe)
const sseTrace = (stream: SseReader): string[] => stream.messages.map((m) => describe(JSON.parse(m.data) as ServerFrame))
function describe(f: ServerFrame): string {
  if (f.op === 'event') return `event:${f.id}`
  if (f.op === 'reset') return `reset:${f.reason}@${String(f.head)}`
  if (f.op === 'subscribed') return `subscribed@${String(f.head)}`
  return f.op
}

/** The head of the client's `reset`: at least the last event before the gap. */
function resetHead(t: Test, client: TestWsClient, last: string): string {
  const head = client.frames.find((f) => f.op === 'reset')?.head as string
  t.ok(head >= last, `the reset head ${head} is at or after the last event before the gap (${last})`)
  return head
}

async function roundTrip(client: TestWsClient, ref: string): Promise<void> {
  client.send({ op: 'ping', ref })
  await client.next((f) => f.op === 'pong' && f.ref === ref, 10_000)
}

const setStatus = (tdb: TestDatabase, id: number, status: string) => tdb.query('UPDATE escrows SET status = $1 WHERE id = $2', [status, id])
const gaps = async (tdb: TestDatabase): Promise<GapRow[]> => (await tdb.query<GapRow>('SELECT after_lsn::text, until_lsn::text, reason FROM walcast.gaps ORDER BY id')).rows
const lastEventLsn = async (tdb: TestDatabase): Promise<string> => (await tdb.query<{ lsn: string }>('SELECT max(commit_lsn)::text AS lsn FROM walcast.events')).rows[0]!.lsn
const lsnLess = async (tdb: TestDatabase, a: string, b: string): Promise<boolean> => (await tdb.query<{ lt: boolean }>('SELECT $1::pg_lsn < $2::pg_lsn AS lt', [a, b])).rows[0]!.lt

/**
 * Streams two events of escrow:1, stops walcast, drops its slot and commits a change no
 * slot keeps (lost for good). Returns the events the history holds.
 */
async function loseSlotWhileDown(t: Test, tdb: TestDatabase): Promise<HistoryRow[]> {
  const first = await startService(tdb.config(), silentLogger())
  t.teardown(() => first.stop())
  await waitFor(() => first.ingest.status().state === 'streaming', STREAMING_WAIT_MS, 'streaming')
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (1, 'A', 1, 'EUR')`)
  await setStatus(tdb, 1, 'funded')
  const rows = await waitForHistory(tdb, 2)
  await first.stop()
  // The walsender exits a moment after the connection closes.
  await waitFor(() => tdb.query('SELECT pg_drop_replication_slot($1)', [tdb.slot]).then(() => true), 15_000, 'slot dropped')
  await setStatus(tdb, 1, 'in_progress')
  return rows
}

async function startNoWait(t: Test, tdb: TestDatabase, env: Record<string, string> = {}): Promise<{ service: Service; base: string }> {
  const service = await startService(tdb.config(authEnv(env)), silentLogger())
  t.teardown(() => service.stop())
  return { service, base: `http://127.0.0.1:${service.http.port}` }
}

t.test('I6 I4: slot lost while walcast was down (no recreate): subscribes wait; `walcast slot create` records the gap at the last durable event; then reset on every transport', async (t) => {
  const tdb = await createTestDatabase(t)
  const [e1, e2] = await loseSlotWhileDown(t, tdb)
  const lastLsn = await lastEventLsn(tdb)

  const { service, base } = await startNoWait(t, tdb)
  await waitFor(() => service.ingest.status().state === 'waiting' && service.ingest.status().reason?.includes('missing'), 15_000, 'waiting for the missing slot')
  const notReady = await fetch(`${base}/readyz`)
  t.equal(notReady.status, 503, '/readyz is 503 while the slot is missing')
  t.match(await notReady.json(), { error: { code: 'not_ready', message: /slot \S+ is missing/ } })

  const token = await adminToken()
  const ws = await connectWs(t, service.http.port, token)
  ws.subscribe('escrow:1', { since: e1!.id })
  const sse = await openSse(`${base}/v1/sse?topic=escrow:1`, { authorization: `Bearer ${token}`, 'last-event-id': e1!.id })
  t.teardown(() => sse.close())
  t.equal(sse.status, 200)

  // Polling reads the history, which is complete up to its head; the loss is not known
  // to be a gap yet. It moves `next` to that head, where the recorded gap will catch it.
  const early = await poll(t, base, token, `topic=escrow:1&after=${e1!.id}`)
  t.same(early, { events: [{ ...early.events[0], id: e2!.id }], next: e2!.id, reset: false }, 'polling before the gap is recorded: the history, reset false')

  await roundTrip(ws, 'p1')
  await sleep(500)
  t.same(wsTrace(ws), [], 'a WebSocket resume from before the loss is not told all is well: no subscribed, no reset, it waits')
  t.same(sseTrace(sse), [], 'an SSE resume from before the loss waits too')

  const created = await runCli(['slot', 'create'], cliEnv(tdb))
  t.equal(created.code, 0, created.stderr)
  t.match(created.stdout, /recorded a gap from \S+ to \S+/)
  const [gap, ...more] = await gaps(tdb)
  t.same(more, [], 'one gap')
  t.equal(gap!.after_lsn, lastLsn, 'the gap starts at the last durable event, not 0/0')
  t.not(gap!.after_lsn, '0/0')
  t.equal(gap!.reason, 'slot_created')
  t.ok(await lsnLess(tdb, gap!.after_lsn, gap!.until_lsn), 'and ends where the new slot starts')

  await waitFor(() => service.ingest.status().state === 'streaming', STREAMING_WAIT_MS, 'streaming from the new slot')
  t.equal((await fetch(`${base}/readyz`)).status, 200, '/readyz is 200 again')

  await waitFor(() => wsTrace(ws).some((f) => f.startsWith('subscribed')), 15_000, 'WebSocket answered')
  await waitFor(() => sseTrace(sse).some((f) => f.startsWith('subscribed')), 15_000, 'SSE answered')
  const head = resetHead(t, ws, e2!.id)
  t.same(wsTrace(ws), [`reset:stream_gap@${head}`, `subscribed@${head}`], 'the waiting WebSocket client: reset (stream_gap, with the head), then subscribed; nothing replayed across the gap')
  t.same(sseTrace(sse), [`reset:stream_gap@${head}`, `subscribed@${head}`], 'the SSE stream: a reset control event, then subscribed')
  t.match(sse.raw(), /event: reset\ndata: \{[^\n]*"reason":"stream_gap"/, 'as an SSE `reset` event')

  for (const after of [e1!.id, e2!.id]) {
    const page = await poll(t, base, token, `topic=escrow:1&after=${after}`)
    t.match(page, { events: [], reset: true, reason: 'stream_gap' }, `polling from ${after === e1!.id ? 'e1' : "the earlier page's next"} (before the gap): reset`)
  }

  await setStatus(tdb, 1, 'completed')
  const [, , e3] = await waitForHistory(tdb, 3)
  await waitFor(() => wsTrace(ws).length >= 3 && sseTrace(sse).length >= 3, 15_000, 'live events')
  await roundTrip(ws, 'p2')
  t.same(wsTrace(ws).slice(2), [`event:${e3!.id}`], 'then live on the WebSocket')
  t.same(sseTrace(sse).slice(2), [`event:${e3!.id}`], 'then live on SSE')
  t.same(await gaps(tdb), [gap], 'the gap was recorded once')
})

t.test('I6 I4: slot lost while walcast was down, WALCAST_SLOT_RECREATE=true: the gap starts at the last durable event and the first resume gets reset', async (t) => {
  const tdb = await createTestDatabase(t)
  const [e1, e2] = await loseSlotWhileDown(t, tdb)
  const lastLsn = await lastEventLsn(tdb)

  const { service, base } = await startNoWait(t, tdb, { WALCAST_SLOT_RECREATE: 'true' })
  // As soon as the HTTP port listens: the first clients of a restart.
  const token = await adminToken()
  const ws = await connectWs(t, service.http.port, token)
  ws.subscribe('escrow:1', { since: e1!.id })
  const sse = await openSse(`${base}/v1/sse?topic=escrow:1`, { authorization: `Bearer ${token}`, 'last-event-id': e1!.id })
  t.teardown(() => sse.close())

  await waitFor(() => service.ingest.status().state === 'streaming', STREAMING_WAIT_MS, 'streaming from the recreated slot')
  const [gap, ...more] = await gaps(tdb)
  t.same(more, [])
  t.equal(gap!.after_lsn, lastLsn, 'the gap starts at the last durable event, not 0/0')
  t.not(gap!.after_lsn, '0/0')
  t.equal(gap!.reason, 'slot_recreated')
  t.ok(await lsnLess(tdb, gap!.after_lsn, gap!.until_lsn))

  await waitFor(() => wsTrace(ws).some((f) => f.startsWith('subscribed')), 15_000, 'WebSocket answered')
  await waitFor(() => sseTrace(sse).some((f) => f.startsWith('subscribed')), 15_000, 'SSE answered')
  const head = resetHead(t, ws, e2!.id)
  t.same(wsTrace(ws), [`reset:stream_gap@${head}`, `subscribed@${head}`], 'the first WebSocket resume from before the loss: reset, never a bare subscribed')
  t.same(sseTrace(sse), [`reset:stream_gap@${head}`, `subscribed@${head}`], 'the first SSE resume: the same')
  t.match(await poll(t, base, token, `topic=escrow:1&after=${e1!.id}`), { events: [], reset: true, reason: 'stream_gap' }, 'polling from before the loss: reset')
})

t.test('I6: a slot dropped under a streaming walcast (recreate): live WebSocket and SSE clients get reset at once, then live events', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service, url: base } = await startFeedService(t, tdb, { WALCAST_SLOT_RECREATE: 'true' })
  await waitForActiveSlot(tdb)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (1, 'A', 1, 'EUR')`)
  await setStatus(tdb, 1, 'funded')
  const [e1, e2] = await waitForHistory(tdb, 2)
  // Published, not only durable: the SSE stream below opens live and is expected at e2.
  await waitFor(() => (service.hub.lastId() ?? '') >= e2!.id, 15_000, 'the events published')
  const token = await adminToken()

  const ws = await connectWs(t, service.http.port, token)
  t.match(await ws.subscribeAndWait('escrow:1', { since: e1!.id }), { op: 'subscribed', head: e2!.id })
  const sse = await openSse(`${base}/v1/sse?topic=escrow:1`, { authorization: `Bearer ${token}` })
  t.teardown(() => sse.close())
  await waitFor(() => sseTrace(sse).includes(`subscribed@${e2!.id}`), 15_000, 'SSE live')

  await dropSlotUnderWalcast(tdb)
  await waitFor(async () => (await gaps(tdb)).length === 1, 20_000, 'the gap recorded')
  await waitFor(() => service.ingest.status().state === 'streaming', STREAMING_WAIT_MS, 'streaming again')
  t.ok(await slotRow(tdb), 'the slot was recreated')
  const [gap] = await gaps(tdb)
  t.match(gap, { after_lsn: await lastEventLsn(tdb), reason: 'slot_recreated' }, 'the gap starts at the last durable event')

  await waitFor(() => wsTrace(ws).some((f) => f.startsWith('reset')) && sseTrace(sse).some((f) => f.startsWith('reset')), 15_000, 'live clients reset')
  const reset = `reset:stream_gap@${resetHead(t, ws, e2!.id)}`
  await setStatus(tdb, 1, 'completed')
  const [, , e3] = await waitForHistory(tdb, 3)
  await waitFor(() => wsTrace(ws).length >= 4 && sseTrace(sse).length >= 3, 15_000, 'live events after the reset')
  await roundTrip(ws, 'p')
  t.same(wsTrace(ws), [`event:${e2!.id}`, `subscribed@${e2!.id}`, reset, `event:${e3!.id}`], 'WebSocket: reset (stream_gap) while live, still subscribed, then live events')
  t.same(sseTrace(sse), [`subscribed@${e2!.id}`, reset, `event:${e3!.id}`], 'SSE: the same')
  t.match(await poll(t, base, token, `topic=escrow:1&after=${e2!.id}`), { reset: true, reason: 'stream_gap' }, 'polling from before the gap: reset')
})

t.test('I4: the head a stream_gap reset hands out is a position a client can resume from without another reset', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service, url: base } = await startFeedService(t, tdb, { WALCAST_SLOT_RECREATE: 'true' })
  await waitForActiveSlot(tdb)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (1, 'A', 1, 'EUR')`)
  const [e1] = await waitForHistory(tdb, 1)
  const token = await adminToken()
  await dropSlotUnderWalcast(tdb)
  await waitFor(async () => (await gaps(tdb)).length === 1, 20_000, 'the gap recorded')
  await waitFor(() => service.ingest.status().state === 'streaming', STREAMING_WAIT_MS, 'streaming again')

  // docs/protocol.md: `head` on `reset` is the position the subscription is live from; a
  // client with no later event resumes from it after a drop.
  const first = await connectWs(t, service.http.port, token)
  const reset = await first.subscribeAndWait('escrow:1', { since: e1!.id })
  t.match(reset, { op: 'reset', reason: 'stream_gap', head: String })
  const again = await connectWs(t, service.http.port, token)
  t.match(await again.subscribeAndWait('escrow:1', { since: reset.head as string }), { op: 'subscribed' }, 'WebSocket: resuming from the reset head is not reset again')

  const page = await poll(t, base, token, `topic=escrow:1&after=${e1!.id}`)
  t.match(page, { reset: true, reason: 'stream_gap' })
  t.match(await poll(t, base, token, `topic=escrow:1&after=${page.next}`), { events: [], reset: false }, "polling: following a reset page's next is not reset again")
})
