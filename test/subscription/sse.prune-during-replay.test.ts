import t, { type Test } from 'tap'
import { createSseParser, type SseMessage } from '../../src/client/sse-parser.ts'
import type { StoredEvent } from '../../src/history/event.ts'
import { pruneHistory } from '../../src/history/prune.ts'
import { createTestDatabase } from '../helpers/db.ts'
import { startFeedService } from '../helpers/feed.ts'
import { seedHistory } from '../helpers/history-seed.ts'
import { adminToken } from '../helpers/tokens.ts'
import { sleep, waitFor } from '../helpers/wait.ts'

// The SSE twin of gateway.replay-paging's 'a replay overtaken by the pruner ends with
// reset': the resume rule is asked again after every replay page, so a prune that
// passes a stream still replaying ends the replay with `reset`, never with a hole.

const EVENT_ID = /^[0-9a-f]{16}-[0-7][0-9a-f]{7}$/
const PAGE = 500
const EVENTS = 30_000
const DAY = 86_400_000

/** An SSE reader that can stop taking bytes (the TCP window fills) and start again. */
async function pausableSse(t: Test, url: string, headers: Record<string, string>): Promise<{ messages: SseMessage[]; pause(): void; resume(): void; ended(): boolean }> {
  const controller = new AbortController()
  t.teardown(() => controller.abort())
  const response = await fetch(url, { headers, signal: controller.signal })
  t.equal(response.status, 200, 'the stream opens')
  const messages: SseMessage[] = []
  const parse = createSseParser((m) => messages.push(m))
  let gate: Promise<void> | undefined
  let open: (() => void) | undefined
  let ended = false
  void (async () => {
    try {
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
      for (;;) {
        if (gate !== undefined) await gate
        const { done, value } = await reader.read()
        if (done) break
        parse(value)
      }
    } catch { /* aborted */ }
    ended = true
  })()
  return {
    messages,
    pause() { gate ??= new Promise((resolve) => { open = resolve }) },
    resume() { gate = undefined; open?.() },
    ended: () => ended,
  }
}

t.test('I4: an SSE replay overtaken by the pruner ends with reset history_gone, never a hole; what it sent is contiguous from Last-Event-ID; then live', async (t) => {
  const tdb = await createTestDatabase(t)
  const seeded = await seedHistory(tdb, 'escrow:9', EVENTS, { padding: 400, ageMs: 2 * DAY })
  const { service, url } = await startFeedService(t, tdb, { WALCAST_WS_REPLAY_PAGE: String(PAGE), WALCAST_MAX_BACKPRESSURE: '65536' })
  // Watch the pages the core reads (the real store underneath): one that comes back
  // short means the replay reached the end of the history.
  let reads = 0
  let reachedEnd = false
  const readSince = service.history.readSince.bind(service.history)
  service.history.readSince = async (topic, after, limit): Promise<StoredEvent[]> => {
    const rows = await readSince(topic, after, limit)
    reads++
    if (rows.length < limit) reachedEnd = true
    return rows
  }

  const since = seeded[99]!
  const stream = await pausableSse(t, `${url}/v1/sse?topic=escrow:9`, { authorization: `Bearer ${await adminToken()}`, 'last-event-id': since })
  const ids = (): string[] => stream.messages.filter((m) => m.id !== undefined).map((m) => m.id!)
  await waitFor(() => ids().length >= 200, 30_000, 'the replay to start')
  stream.pause()
  await waitFor(async () => {
    const before = reads
    await sleep(500)
    return reads === before
  }, 20_000, 'the server to stop reading pages while the client takes nothing')
  t.notOk(reachedEnd, `the replay is still paging (${reads} pages read, paused by the client)`)
  t.notOk(stream.messages.some((m) => m.event === 'subscribed'), 'and has not gone live')

  const pruned = await pruneHistory(service.database.db, { retentionMs: DAY, pruneIntervalMs: 60_000, pruneBatch: 10_000 })
  t.equal(pruned.deleted, EVENTS, 'the pruner removed the whole seeded history, past the stream\'s position')
  stream.resume()
  // Let the client take everything the server had buffered, until the stream says how
  // its replay ended (or, saying nothing, stops moving).
  await waitFor(async () => {
    if (stream.messages.some((m) => m.event === 'reset' || m.event === 'subscribed')) return true
    const before = stream.messages.length
    await sleep(3000)
    return stream.messages.length === before
  }, 30_000, 'the stream to settle after the prune')
  // Then a live event: whatever the stream did about the prune, it shows before this.
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (9, 'after the prune', 1, 'EUR')`)
  const live = await waitFor(() => stream.messages.find((m) => m.id !== undefined && m.id > seeded.at(-1)!), 15_000, 'the live event')

  const reset = stream.messages.find((m) => m.event === 'reset')
  const sent = stream.messages.filter((m) => m.id !== undefined && m.id <= seeded.at(-1)!).map((m) => m.id!)
  const from = seeded.indexOf(since) + 1
  t.ok(reset !== undefined && stream.messages.indexOf(reset) < stream.messages.indexOf(live), `a reset came before the live event (else the client silently misses ${seeded.indexOf(sent.at(-1)!) + 1}..${EVENTS - 1} of the seeded events)`)
  if (reset === undefined) return
  const resetFrame = JSON.parse(reset.data) as { head: string }
  t.same(resetFrame, { op: 'reset', topic: 'escrow:9', reason: 'history_gone', head: resetFrame.head }, 'reset history_gone')
  t.match(resetFrame.head, EVENT_ID, 'with the head the stream is live from')
  const at = stream.messages.indexOf(reset)
  t.same(stream.messages[at + 1], { event: 'subscribed', id: undefined, data: JSON.stringify({ op: 'subscribed', topic: 'escrow:9', head: resetFrame.head }) }, 'then live, at the same head')
  t.same(stream.messages.slice(at + 2), [live], 'then exactly the new event, live')
  t.ok(live.id! > resetFrame.head, 'after the head')

  t.ok(sent.length > 0 && sent.length < EVENTS - from, `${sent.length} events were sent before the reset, not all ${EVENTS - from}`)
  t.same(sent, seeded.slice(from, from + sent.length), 'every event sent before the reset is the next one after Last-Event-ID: no hole, no repeat')
  t.notOk(stream.messages.slice(0, at).some((m) => m.id === undefined), 'nothing but events before it')
  t.equal(stream.ended(), false, 'the stream stays open')
})
