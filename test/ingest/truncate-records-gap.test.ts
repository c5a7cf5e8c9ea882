import t from 'tap'
import pg from 'pg'
import { formatEventId, formatLsn, gapMark, parseEventId, parseLsn } from '../../src/event-id.ts'
import { unresumableReason } from '../../src/subscription/resume-rule.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts'
import { startFeedService } from '../helpers/feed.ts'
import { capturingLogger } from '../helpers/log.ts'
import { startTestService, waitForHistory } from '../helpers/service.ts'
import { signToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'
import { connectWs, type ServerFrame } from '../helpers/ws-client.ts'
import { seedEscrow } from '../helpers/escrow-fixture.ts'

// A TRUNCATE removes rows with no row change per row: a client holding them would silently
// diverge. walcast records a gap at the truncating transaction's commit, after every event
// of that transaction and before any later one, resets live clients there, and moves the
// slot past the commit only once the gap is durable.

/**
 * Where Postgres says the COMMIT record starting at `commitLsn` ends (pg_walinspect): the
 * end LSN pgoutput sends with that commit, which the gap must end at.
 */
async function commitEnd(tdb: TestDatabase, commitLsn: bigint): Promise<bigint> {
  await tdb.query('CREATE EXTENSION IF NOT EXISTS pg_walinspect')
  const row = (await tdb.query<{ start: string; end: string; type: string }>(
    `SELECT start_lsn::text AS start, end_lsn::text AS end, resource_manager || '/' || record_type AS type FROM pg_get_wal_record_info($1::pg_lsn)`,
    [formatLsn(commitLsn)],
  )).rows[0]!
  if (parseLsn(row.start) !== commitLsn || row.type !== 'Transaction/COMMIT') throw new Error(`no COMMIT record at the events' LSN: ${JSON.stringify(row)}`)
  return parseLsn(row.end)
}

const truncateGaps = async (tdb: TestDatabase): Promise<[bigint, bigint][]> =>
  (await tdb.query<{ after: string; until: string }>(`SELECT after_lsn::text AS after, until_lsn::text AS until FROM walcast.gaps WHERE reason = 'truncate' ORDER BY until_lsn`)).rows
    .map((g) => [parseLsn(g.after), parseLsn(g.until)])

t.test('I6, I1: a TRUNCATE records one gap at its transaction\'s commit, after every event of that transaction and before later ones, signals it there, and is acknowledged only after the gap is durable', async (t) => {
  const tdb = await createTestDatabase(t)
  // The gap write takes a while: long enough to see the slot wait for it.
  await tdb.query(`
    CREATE FUNCTION walcast.slow_gap() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN PERFORM pg_sleep(1.5); RETURN NEW; END $$`)
  await tdb.query(`CREATE TRIGGER slow_gap BEFORE INSERT ON walcast.gaps FOR EACH ROW EXECUTE FUNCTION walcast.slow_gap()`)
  const { log, lines } = capturingLogger('info')
  const service = await startTestService(t, tdb, { WALCAST_STATUS_INTERVAL: '200ms' }, log)

  // What the hub hands on, in order: batches of events and gap signals.
  const trail: string[] = []
  const gapHeads: string[] = []
  service.hub.subscribe((events) => trail.push(...events.map((e) => `${e.type}:${String(e.data.escrowId ?? e.data.title)}`)))
  service.hub.onSignal((signal) => {
    if (signal.kind !== 'gap') return
    trail.push(`gap:${signal.reason}`)
    gapHeads.push(signal.head)
  })

  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'u')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (1, 'before', 1, 'USD')`)
  await tdb.query(`INSERT INTO notifications (user_id, kind, title) VALUES (1, 'k', 'secret-early')`)
  await waitFor(() => trail.length === 2, 15_000, 'the events before the TRUNCATE')

  // One transaction: an event, the TRUNCATE, an event; then a later transaction.
  const writer = new pg.Client({ connectionString: tdb.url })
  await writer.connect()
  t.teardown(() => writer.end())
  await writer.query('BEGIN')
  await writer.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (2, 'same transaction, before', 1, 'USD')`)
  await writer.query('TRUNCATE notifications')
  await writer.query(`INSERT INTO notifications (user_id, kind, title) VALUES (1, 'k', 'same transaction, after')`)
  await writer.query('COMMIT')
  await writer.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (3, 'later transaction', 1, 'USD')`)

  // Until the gap row is durable the slot stays before the truncating transaction (I1),
  // and the later transaction stays out of the history. Each probe reads what must come
  // first last: a slot past the commit (or a later event) seen before a gap read that
  // still finds no gap row was there before the gap was durable.
  const truncateLsn = await waitFor(async () => {
    const row = (await tdb.query<{ lsn: string }>(`SELECT commit_lsn::text AS lsn FROM walcast.events WHERE payload->>'escrowId' = '2'`)).rows[0]
    return row === undefined ? undefined : parseLsn(row.lsn)
  }, 15_000, 'the truncating transaction\'s events in the history')
  const violations: string[] = []
  let sawSlotWaiting = false
  let sawTransactionBeforeGap = false
  await waitFor(async () => {
    const slot = (await tdb.query<{ lsn: string }>(`SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1`, [tdb.slot])).rows[0]!
    const later = (await tdb.query(`SELECT 1 FROM walcast.events WHERE payload->>'escrowId' = '3'`)).rowCount
    const gaps = (await tdb.query(`SELECT 1 FROM walcast.gaps WHERE reason = 'truncate'`)).rowCount
    const own = (await tdb.query(`SELECT 1 FROM walcast.events WHERE commit_lsn = $1::pg_lsn`, [formatLsn(truncateLsn)])).rowCount
    const passed = parseLsn(slot.lsn) > truncateLsn
    if (passed && gaps === 0) violations.push(`the slot was acknowledged to ${slot.lsn}, past the truncating commit, before its gap was recorded`)
    if (later !== 0 && gaps === 0) violations.push('the later transaction\'s event was durable before the gap')
    if (gaps === 0 && own === 2) sawTransactionBeforeGap = true
    if (!passed) sawSlotWaiting = true
    return passed
  }, 20_000, 'the slot to move past the truncating commit')
  t.same(violations, [], 'the slot never passed the truncating commit, nor a later event became durable, before the gap')
  t.ok(sawSlotWaiting, 'the slot was seen waiting for the gap write')
  t.ok(sawTransactionBeforeGap, 'both events of the truncating transaction (before and after the TRUNCATE) were durable before the gap row')

  const end = await commitEnd(tdb, truncateLsn)
  t.same(await truncateGaps(tdb), [[truncateLsn, end]], 'one gap row, reason truncate, from the commit LSN to the commit\'s end LSN')

  await waitFor(() => trail.length === 6, 15_000, 'every event and the gap signal')
  t.same(trail, [
    'escrow:status_changed:1',
    'notification:new:secret-early',
    'escrow:status_changed:2',
    'notification:new:same transaction, after',
    'gap:truncate',
    'escrow:status_changed:3',
  ], 'the gap signal follows every event of the truncating transaction and precedes the later transaction')
  t.same(gapHeads, [gapMark(end)], 'the signal\'s head is the gap\'s mark')

  // The bounds against the resume rule: positions before or inside the truncating
  // transaction are reset; the mark and the later transaction resume.
  const ids = (await tdb.query<{ id: string; escrow: string | null; title: string | null }>(`
    SELECT lpad(to_hex((commit_lsn - '0/0')::bigint), 16, '0') || '-' || lpad(to_hex(seq), 8, '0') AS id, payload->>'escrowId' AS escrow, payload->>'title' AS title
    FROM walcast.events ORDER BY commit_lsn, seq`)).rows
  const head = ids.at(-1)!.id
  const idOf = (escrow: string) => ids.find((row) => row.escrow === escrow)!.id
  const afterTruncate = ids.find((row) => row.title === 'same transaction, after')!.id
  const mark = gapMark(end)
  t.equal(await unresumableReason(service.history, idOf('1'), head), 'stream_gap', 'a resume from before the truncating transaction is reset')
  t.equal(await unresumableReason(service.history, idOf('2'), head), 'stream_gap', 'so is one from inside it, before the TRUNCATE')
  t.equal(await unresumableReason(service.history, afterTruncate, head), 'stream_gap', 'and one from inside it, after the TRUNCATE')
  t.equal(await unresumableReason(service.history, mark, head), undefined, 'the mark (what a reset hands out) resumes')
  t.equal(await unresumableReason(service.history, idOf('3'), head), undefined, 'a resume from the later transaction continues')
  t.ok(idOf('2') < mark && afterTruncate < mark && mark < idOf('3'), 'the mark sorts after every event of the truncating transaction and before the later one')
  t.equal(parseEventId(afterTruncate).lsn, truncateLsn, 'the event after the TRUNCATE belongs to the truncating commit')
  t.ok(parseEventId(idOf('3')).lsn >= end, 'the later transaction lies past the gap')
  // As it stood right after the reset, before the later transaction: the mark is ahead of
  // the newest event, yet resumable; only a position past the mark too is unknown.
  t.equal(await unresumableReason(service.history, mark, afterTruncate), undefined, 'the mark resumes while nothing follows the gap yet')
  t.equal(await unresumableReason(service.history, formatEventId({ lsn: end, seq: 0 }), afterTruncate), 'unknown_position', 'a position past the mark and the head was never issued')

  const warning = lines().find((line) => line.includes('TRUNCATE'))
  t.ok(warning?.includes('public.notifications'), 'a warning names the table')
  t.notOk(lines().some((line) => line.includes('secret-early')), 'and no row data')
  t.equal(service.ingest.status().state, 'streaming', 'still streaming')
})

t.test('I1, I6: a failed gap write publishes and acknowledges nothing of its transaction; after the reconnect the gap is recorded once, its transaction reaches subscribers before it and the later one after it', async (t) => {
  const tdb = await createTestDatabase(t)
  await tdb.query(`
    CREATE FUNCTION walcast.refuse_gap() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'gap write refused for this test'; END $$`)
  await tdb.query(`CREATE TRIGGER refuse_gap BEFORE INSERT ON walcast.gaps FOR EACH ROW EXECUTE FUNCTION walcast.refuse_gap()`)
  const service = await startTestService(t, tdb, { WALCAST_STATUS_INTERVAL: '200ms' })
  const trail: string[] = []
  service.hub.subscribe((events) => trail.push(...events.map((e) => `${e.type}:${String(e.data.escrowId ?? e.data.title)}`)))
  service.hub.onSignal((signal) => {
    if (signal.kind === 'gap') trail.push(`gap:${signal.reason}`)
    if (signal.kind === 'resync') trail.push('resync')
  })

  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'u')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (1, 'before', 1, 'USD')`)
  await waitFor(() => trail.length === 1, 15_000, 'the first event')
  await tdb.query(`BEGIN; INSERT INTO escrows (id, title, amount, currency) VALUES (2, 'before the truncate', 1, 'USD'); TRUNCATE notifications; INSERT INTO notifications (user_id, kind, title) VALUES (1, 'k', 'after the truncate'); COMMIT`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (3, 'later transaction', 1, 'USD')`)

  await waitFor(() => service.ingest.status().state === 'reconnecting', 15_000, 'the ingest to give up on the connection')
  t.match(service.ingest.status().reason, /gap write refused/, 'its status says why')
  const truncateLsn = parseLsn((await tdb.query<{ lsn: string }>(`SELECT commit_lsn::text AS lsn FROM walcast.events WHERE payload->>'escrowId' = '2'`)).rows[0]!.lsn)
  const slot = async (): Promise<bigint> => parseLsn((await tdb.query<{ lsn: string }>(`SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1`, [tdb.slot])).rows[0]!.lsn)
  t.ok(await slot() <= truncateLsn, 'the slot is not acknowledged past the truncating commit')
  const durable = async (where: string): Promise<number> => (await tdb.query(`SELECT 1 FROM walcast.events WHERE ${where}`)).rowCount ?? 0
  t.equal(await durable(`payload->>'title' = 'after the truncate'`), 1, 'the truncating transaction\'s events were written before its gap (re-read, they are stored once)')
  t.equal(await durable(`payload->>'escrowId' = '3'`), 0, 'the later transaction did not become durable before the gap')
  t.same(trail, ['escrow:status_changed:1'], 'nothing of the truncating transaction was published, no gap was signalled')

  await tdb.query(`DROP TRIGGER refuse_gap ON walcast.gaps`)
  await waitFor(() => trail.includes('escrow:status_changed:3'), 30_000, 'the later transaction, once gap writes work again')
  // The reconnected hub restarts at the history's head, which already holds the truncating
  // transaction: subscribers read it from the history (resync), the re-read copy is not
  // published again, then the gap is signalled, then the later transaction arrives.
  t.same(trail, ['escrow:status_changed:1', 'resync', 'gap:truncate', 'escrow:status_changed:3'], 'the truncating transaction before the gap (through the history), the later one after it')
  t.equal(await durable(`payload->>'title' = 'after the truncate' OR payload->>'escrowId' = '2'`), 2, 'each event of the re-read transaction stored once')
  t.same(await truncateGaps(tdb), [[truncateLsn, await commitEnd(tdb, truncateLsn)]], 'one gap row, recorded by the re-read transaction, from its commit LSN to its end LSN')
  await waitFor(async () => (await slot()) > truncateLsn, 15_000, 'the slot to move past the truncating commit')
  t.equal(service.ingest.status().state, 'streaming', 'streaming again')
})

const label = (f: ServerFrame): string => (f.op === 'event' ? `${f.topic} ${f.type}:${String(f.data?.to ?? '')}` : `${f.topic} ${f.op}${f.reason ? `:${f.reason}` : ''}`)

t.test('I4, I6: a WebSocket client reset by a TRUNCATE resumes from the reset\'s head with no second reset, nothing doubled, and gets the later events', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service, url } = await startFeedService(t, tdb)
  await seedEscrow(tdb, [[1, 'Ada', 'buyer']])
  const newest = (await waitForHistory(tdb, 2)).at(-1)!.id
  await waitFor(() => (service.hub.lastId() ?? '') >= newest, 10_000, 'the events published')
  const token = await signToken('1')
  const ws = await connectWs(t, service.http.port, token)
  t.equal((await ws.subscribeAndWait('escrow:1')).op, 'subscribed')

  // Events of the escrow on both sides of the TRUNCATE, in one transaction.
  await tdb.query(`BEGIN; UPDATE escrows SET status = 'funded' WHERE id = 1; TRUNCATE notifications; UPDATE escrows SET status = 'in_progress' WHERE id = 1; COMMIT`)
  const reset = await ws.next((f) => f.op === 'reset')
  t.same(ws.frames.map(label), ['escrow:1 subscribed', 'escrow:1 escrow:status_changed:funded', 'escrow:1 escrow:status_changed:in_progress', 'escrow:1 reset:stream_gap'], 'the whole truncating transaction arrives live, then the reset')
  const gaps = await truncateGaps(tdb)
  t.equal(gaps.length, 1, 'one gap recorded, before the reset')
  const [truncateLsn, end] = gaps[0]!
  const head = gapMark(end)
  t.equal(reset.head, head, 'the reset\'s head is the gap\'s mark')
  const inProgress = ws.events().at(-1)!.id!
  t.equal(parseEventId(inProgress).lsn, truncateLsn, 'the event after the TRUNCATE belongs to the truncating commit')
  t.ok(inProgress < head, 'the head lies past every event the client got')
  await ws.close()

  // Nothing newer yet: the hub stands at the mark, ahead of the newest event.
  t.equal(service.hub.head(), head, 'no newer event before the resume')
  const resumed = await connectWs(t, service.http.port, token)
  const answer = await resumed.subscribeAndWait('escrow:1', { since: head })
  t.same({ op: answer.op, head: answer.head }, { op: 'subscribed', head }, 'resuming from the head of its reset: subscribed at that head, not reset again')
  const poll = await fetch(`${url}/v1/events?topic=escrow:1&after=${head}`, { headers: { authorization: `Bearer ${token}` } })
  t.same(await poll.json(), { events: [], next: head, reset: false }, 'polling from the same head: no reset either')

  await tdb.query(`UPDATE escrows SET status = 'completed' WHERE id = 1`)
  const completed = await resumed.next((f) => f.op === 'event')
  t.ok(completed.id! > head, 'the later event lies past the head')
  t.same(resumed.frames.map(label), ['escrow:1 subscribed', 'escrow:1 escrow:status_changed:completed'], 'then the later event, live: nothing of the truncating transaction again, no reset')
})

