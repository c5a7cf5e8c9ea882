import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { createHistoryStore } from '../../src/history/store.ts'
import { makeEvent, type StoredEvent } from '../../src/history/event.ts'
import { parseEventId, ZERO_ID } from '../../src/event-id.ts'

// A follow set's replay reads every member topic's page in one statement
// (src/subscription/merged-read.ts): each page must be exactly what readSince returns for
// that topic alone, whatever the topics share, and however many of them there are.
t.test('I3: readSinceEach returns, for each topic, the page readSince returns for it alone', async (t) => {
  const tdb = await createTestDatabase(t)
  const history = createHistoryStore(tdb.database.db)
  const events: StoredEvent[] = []
  for (let i = 0; i < 60; i++) {
    const topics = [`escrow:${i % 5}`, ...(i % 7 === 0 ? ['escrow:0', 'escrow:4'] : [])]
    events.push(makeEvent({ lsn: 0x1000n + BigInt(i >> 1), seq: i & 1 }, { type: 't', topics: [...new Set(topics)], data: { i, s: 'quote " ü' } }, new Date(1_700_000_000_000 + i)))
  }
  await history.append(events)
  const topics = ['escrow:4', 'escrow:0', 'escrow:9', 'escrow:2', 'escrow:0']
  for (const [after, limit] of [[ZERO_ID, 100], [ZERO_ID, 3], [parseEventId(events[20]!.id), 4], [parseEventId(events[59]!.id), 10]] as const) {
    const each = await history.readSinceEach(topics, after, limit)
    t.equal(each.length, topics.length, 'one page per topic named, a repeated one included')
    for (const [i, topic] of topics.entries()) {
      const alone = await history.readSince(topic, after, limit)
      t.same(each[i]!.map((e) => [e.id, e.dataJson, e.ts]), alone.map((e) => [e.id, e.dataJson, e.ts]), `${topic} after ${after.lsn}/${after.seq}, limit ${limit}`)
    }
  }
  t.same(await history.readSinceEach([], ZERO_ID, 10), [], 'no topics, no pages')
})
