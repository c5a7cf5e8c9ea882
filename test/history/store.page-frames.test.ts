import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { createHistoryStore } from '../../src/history/store.ts'
import { eventFrame, eventFrameJson, makeEvent } from '../../src/history/event.ts'
import { pageFrame } from '../../src/history/page-frame.ts'
import { ZERO_ID } from '../../src/event-id.ts'

// A replay page's frames are assembled by Postgres (src/history/page-frame.ts) and its
// events' id, ts and payload text are sliced out of them: each frame must be byte for byte
// the frame the same event read back the other way (readAfter) gets from eventFrameJson,
// whatever its payload holds — keys named like the frame's own, quotes, escapes, non-ASCII.
t.test('I3: a page frame assembled by Postgres is the read-back event frame, byte for byte', async (t) => {
  const tdb = await createTestDatabase(t)
  const history = createHistoryStore(tdb.database.db)
  const at = new Date('2026-12-02T07:01:02.345Z')
  const live = [
    makeEvent({ lsn: 0x2a51b80n, seq: 0 }, { type: 'escrow:status_changed', topics: ['escrow:7', 'user:3'], data: { escrowId: '7', from: null, to: 'funded' } }, at),
    makeEvent({ lsn: 0x2a51b80n, seq: 1 }, { type: 'escrow:odd "type" \\ ü', topics: ['escrow:7'], data: { data: { ts: 'x', lsn: '0/0' }, note: ',"ts":"2020-01-01T00:00:00.000Z","lsn":"0/1"}', q: '"data":{}', u: 'ü ✓ 😀 \u0001 \n' } }, at),
    makeEvent({ lsn: 0x1_0000_0000n, seq: 0x7fffffff }, { type: 'escrow:milestone_released', topics: ['escrow:7', 'admin:disputes'], data: { escrowId: '7', amount: '12.50', list: [1, 2, { ts: 3 }] } }, new Date('1999-12-31T23:59:59.999Z')),
    makeEvent({ lsn: 0xffff_ffff_ffffn, seq: 3 }, { type: 'escrow:empty', topics: ['escrow:7'], data: {} }, at),
  ]
  await history.append(live)
  const page = await history.readSince('escrow:7', ZERO_ID, 100)
  const readBack = await history.readAfter(ZERO_ID, 100)
  t.equal(page.length, live.length, 'every event read back')
  for (const [i, event] of page.entries()) {
    const frame = pageFrame(event, 'escrow:7')
    t.ok(frame !== undefined, `event ${i} carries its frame`)
    t.equal(frame!.json, eventFrameJson(readBack[i]!, 'escrow:7'), `event ${i}: byte for byte the read-back frame`)
    t.equal(frame!.bytes, Buffer.byteLength(frame!.json), `event ${i}: its UTF-8 length`)
    // The history keeps the payload and commit time as walcast first serialized them (sql/007).
    t.equal(frame!.json, eventFrameJson(live[i]!, 'escrow:7'), `event ${i}: byte for byte its live frame`)
    t.same(JSON.parse(frame!.json), JSON.parse(JSON.stringify(eventFrame(live[i]!, 'escrow:7'))), `event ${i}: the live frame's values`)
    t.equal(event.id, readBack[i]!.id, `event ${i}: id`)
    t.equal(event.lsn, live[i]!.lsn, `event ${i}: lsn`)
    t.equal(event.seq, live[i]!.seq, `event ${i}: seq`)
    t.equal(event.type, live[i]!.type, `event ${i}: type`)
    t.equal(event.ts, live[i]!.ts, `event ${i}: ts`)
    t.same(event.topics, live[i]!.topics, `event ${i}: topics`)
    t.equal(event.dataJson, readBack[i]!.dataJson, `event ${i}: payload text as stored`)
    t.same(event.data, live[i]!.data, `event ${i}: payload`)
    t.equal(eventFrameJson(event, 'escrow:7'), frame!.json, `event ${i}: framed again from its fields, the same text`)
    t.equal(pageFrame(event, 'user:3'), undefined, `event ${i}: no frame for another topic`)
  }
  t.equal(pageFrame(live[0]!, 'escrow:7'), undefined, 'a live event has no page frame')
  // A follow set's pages (readSinceEach) carry the same frames, each for its own topic.
  const [users, escrows] = await history.readSinceEach(['user:3', 'escrow:7'], ZERO_ID, 100)
  t.same(users!.map((event) => pageFrame(event, 'user:3')?.json), [eventFrameJson(readBack[0]!, 'user:3')], 'follow set: the frame for its own topic')
  t.same(escrows!.map((event) => pageFrame(event, 'escrow:7')?.json), page.map((event) => pageFrame(event, 'escrow:7')!.json), 'follow set: the same frames as readSince')
})
