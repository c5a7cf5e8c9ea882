import t from 'tap'
import { pruneBatch } from '../../src/history/prune.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts'
import { waitPublished } from '../helpers/escrow-fixture.ts'
import { startFeedService } from '../helpers/feed.ts'
import { signToken } from '../helpers/tokens.ts'
import { waitForHistory } from '../helpers/service.ts'

interface Page {
  events: { id: string; topic: string; type: string; data: Record<string, unknown>; op: string }[]
  next: string
  reset: boolean
}

// Published, not only durable: a page's `next` at the head is the hub's head, which reaches
// the seed's last event a moment after the history does.
async function seed(tdb: TestDatabase, service: Parameters<typeof waitPublished>[0], statuses: number): Promise<void> {
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'Ada'), (2, 'Sam')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency, status) VALUES (1, 'A', 1, 'EUR', 'draft'), (2, 'B', 1, 'EUR', 'draft')`)
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role, accepted_at) VALUES (1, 1, 'buyer', now()), (2, 2, 'buyer', now())`)
  for (let i = 0; i < statuses; i++) await tdb.query(`UPDATE escrows SET status = $1 WHERE id = 1`, [i % 2 === 0 ? 'funded' : 'in_progress'])
  await waitPublished(service, tdb, 4 + statuses)
}

t.test('I3: pages in id order until the head; limit=0 answers the head; caps', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service, url: base } = await startFeedService(t, tdb)
  await seed(tdb, service, 7)
  const auth = { authorization: `Bearer ${await signToken('1')}` }
  const get = async (query: string): Promise<Page> => {
    const response = await fetch(`${base}/v1/events?${query}`, { headers: auth })
    t.equal(response.status, 200, query)
    return (await response.json()) as Page
  }
  const all: Page['events'] = []
  let after = ''
  let pages = 0
  for (;;) {
    const page = await get(`topic=escrow:1&limit=3${after ? `&after=${after}` : ''}`)
    pages++
    all.push(...page.events)
    t.equal(page.reset, false)
    after = page.next
    if (page.events.length < 3) break
  }
  t.equal(pages, 4, '9 events of escrow:1 in pages of 3, then an empty page')
  t.equal(all.length, 9)
  t.same(all.map((e) => e.id), [...all.map((e) => e.id)].sort(), 'id order')
  t.ok(all.every((e) => e.op === 'event' && e.topic === 'escrow:1'), 'event frames of the topic')
  t.same(all.map((e) => e.type).slice(0, 2).sort(), ['escrow:party_joined', 'escrow:status_changed'])

  const head = await get('topic=escrow:1&limit=0')
  t.same(head.events, [])
  t.ok(head.next >= all.at(-1)!.id, 'limit=0: no events, next is the head')
  t.equal(head.next, after, 'an idle topic’s short page also moves next to the head')
  const idle = await get(`topic=escrow:1&after=${head.next}`)
  t.same(idle, { events: [], next: head.next, reset: false }, 'nothing new')

  await tdb.query(`UPDATE escrows SET status = 'completed' WHERE id = 1`)
  await tdb.query(`UPDATE escrows SET status = 'funded' WHERE id = 2`)
  await waitForHistory(tdb, 13)
  const fresh = await get(`topic=escrow:1&after=${head.next}`)
  t.same(fresh.events.map((e) => e.data.to), ['completed'], 'the next poll brings exactly the new event')

  const capped = await fetch(`${base}/v1/events?topic=escrow:1&limit=5000`, { headers: auth })
  t.equal(((await capped.json()) as Page).events.length, 10, 'a limit over the cap is capped, not refused')
})

t.test('I4: reset when after is older than the retained history', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service, url: base } = await startFeedService(t, tdb)
  await seed(tdb, service, 1)
  const auth = { authorization: `Bearer ${await signToken('1')}` }
  const first = (await (await fetch(`${base}/v1/events?topic=escrow:1`, { headers: auth })).json()) as Page
  await pruneBatch(service.database.db, new Date(Date.now() + 60_000), 10_000)
  const page = (await (await fetch(`${base}/v1/events?topic=escrow:1&after=${first.events[0]!.id}`, { headers: auth })).json()) as Page
  t.equal(page.reset, true)
  t.same(page.events, [])
  t.ok(page.next >= first.events.at(-1)!.id, 'next is where to continue after refetching')
})

t.test('I11: errors: 400, 401, 403, 413, 429 as JSON', async (t) => {
  const tdb = await createTestDatabase(t)
  const { service, url: base } = await startFeedService(t, tdb, { WALCAST_POLL_RATE: '3', WALCAST_POLL_BURST: '3' })
  await seed(tdb, service, 0)
  const ada = { authorization: `Bearer ${await signToken('1')}` }
  const cases: [string, Record<string, string>, number, string][] = [
    ['topic=escrow:1', {}, 401, 'unauthorized'],
    ['topic=escrow:1', { authorization: 'Basic abc' }, 401, 'unauthorized'],
    ['topic=escrow:1', { authorization: 'Bearer x.y.z' }, 401, 'unauthorized'],
    ['', ada, 400, 'bad_request'],
    ['topic=escrow:1&topic=user:1', ada, 400, 'bad_request'],
    ['topic=escrow:1&after=nope', ada, 400, 'bad_request'],
    ['topic=escrow:1&limit=-1', ada, 400, 'bad_request'],
    [`topic=escrow:1&x=${'y'.repeat(17_000)}`, ada, 413, 'payload_too_large'],
  ]
  for (const [query, headers, status, code] of cases) {
    const response = await fetch(`${base}/v1/events?${query}`, { headers })
    t.equal(response.status, status, `${query.slice(0, 40)} → ${status}`)
    t.match(await response.json(), { error: { code, message: String } })
  }
  const sam = { authorization: `Bearer ${await signToken('2')}` }
  const forbidden = await fetch(`${base}/v1/events?topic=escrow:1`, { headers: sam })
  t.equal(forbidden.status, 403)
  t.match(await forbidden.json(), { error: { code: 'forbidden' } })
  let limited: Response | undefined
  for (let i = 0; i < 10 && limited === undefined; i++) {
    const response = await fetch(`${base}/v1/events?topic=user:2`, { headers: sam })
    if (response.status === 429) limited = response
    else await response.body?.cancel()
  }
  t.ok(limited, 'a user polling too fast gets 429')
  t.match(await limited!.json(), { error: { code: 'rate_limited' } })
})
