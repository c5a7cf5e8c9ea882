import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { createHistoryStore } from '../../src/history/store.ts'
import { eventFrameJson, makeEvent } from '../../src/history/event.ts'
import { ZERO_ID } from '../../src/event-id.ts'

// The append sends a batch as one JSON document it builds itself: whatever a topic, a type
// or a payload holds must come back exactly as it went in.
t.test('an appended batch reads back byte for byte, whatever its strings hold', async (t) => {
  const tdb = await createTestDatabase(t)
  const history = createHistoryStore(tdb.database.db)
  const odd = 'quote " backslash \\ comma , brace { } newline \n tab \t é 😀 \u2028 null-ish NULL'
  const events = [
    makeEvent({ lsn: 0x100n, seq: 0 }, { type: 'note:odd "type"', topics: [`topic:${odd}`, 'topic:plain'], data: { text: odd, nested: { list: [1, 'two', null, true], n: 1.5 }, empty: '' } }, new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678))),
    makeEvent({ lsn: 0x100n, seq: 1 }, { type: 't', topics: ['topic:plain'], data: {} }, new Date(0)),
    makeEvent({ lsn: 0x200n, seq: 0 }, { type: 't', topics: [], data: { big: '12345678901234567890' } }, new Date(0)),
  ]
  await history.append(events)
  await history.append(events)
  const plain = await history.readSince('topic:plain', ZERO_ID, 10)
  t.same(plain.map((e) => e.id), [events[0]!.id, events[1]!.id], 'each event once, in id order, a second append changed nothing')
  t.same(plain[0]!.topics, events[0]!.topics, 'topics as they were')
  t.equal(plain[0]!.type, events[0]!.type)
  t.same(plain[0]!.data, events[0]!.data, 'the payload as it was')
  t.equal(plain[0]!.ts, events[0]!.ts, 'the commit time to the millisecond')
  // jsonb orders keys its own way: the same frame, not the same bytes.
  t.same(JSON.parse(eventFrameJson(plain[0]!, 'topic:plain')), JSON.parse(eventFrameJson(events[0]!, 'topic:plain')), 'the same frame from the history as from the ingest')
  const oddTopic = await history.readSince(`topic:${odd}`, ZERO_ID, 10)
  t.same(oddTopic.map((e) => e.id), [events[0]!.id], 'the odd topic is indexed under its exact name')
  const all = await history.readAfter(ZERO_ID, 10)
  t.same(all.map((e) => e.id), events.map((e) => e.id), 'an event with no topic is stored too')
  t.same(all[2]!.data, { big: '12345678901234567890' })
})
