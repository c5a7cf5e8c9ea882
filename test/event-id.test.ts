import t from 'tap'
import { compareEventIds, formatEventId, formatLsn, gapMark, isEventId, parseEventId, parseLsn } from '../src/event-id.ts'

t.test('ids are fixed width and their string order is stream order', async (t) => {
  const ids = [
    { lsn: 0x16B3748n, seq: 0 }, { lsn: 0x16B3748n, seq: 1 }, { lsn: 0x16B3748n, seq: 0x10 },
    { lsn: 0x1_0000_0000n, seq: 0 }, { lsn: 0xFFFF_FFFF_0000_0000n, seq: 0x7FFFFFFF },
  ]
  const texts = ids.map(formatEventId)
  t.same(texts[0], '00000000016b3748-00000000')
  t.ok(texts.every((x) => x.length === 25 && isEventId(x)))
  t.same([...texts].sort(), texts, 'lexical order = stream order')
  t.same(texts.map(parseEventId), ids, 'parse inverts format')
  for (let i = 1; i < ids.length; i++) t.ok(compareEventIds(ids[i - 1]!, ids[i]!) < 0)
  t.equal(compareEventIds(ids[0]!, { ...ids[0]! }), 0)
})

t.test('malformed ids are refused with a clear error', async (t) => {
  for (const bad of ['', 'abc', '00000000016B3748-00000000', '00000000016b3748_00000000', '00000000016b3748-0000000', `${'0'.repeat(16)}-${'0'.repeat(8)}x`]) {
    t.throws(() => parseEventId(bad), { code: 'EVENT_ID_INVALID' }, JSON.stringify(bad))
    t.notOk(isEventId(bad))
  }
  t.notOk(isEventId(42))
})

t.test('I11: a sequence past the history\'s int4 is malformed, not a database error', async (t) => {
  t.ok(isEventId(`${'0'.repeat(15)}1-7fffffff`), 'the largest sequence the history can hold')
  for (const bad of [`${'0'.repeat(15)}1-80000000`, `${'0'.repeat(15)}1-ffffffff`]) {
    t.notOk(isEventId(bad), bad)
    t.throws(() => parseEventId(bad), { code: 'EVENT_ID_INVALID' }, bad)
  }
})

t.test('LSNs in both spellings', async (t) => {
  t.equal(parseLsn('0/2A51B80'), 0x2A51B80n)
  t.equal(parseLsn('00000000/02A51B80'), 0x2A51B80n, "pg-logical-replication's zero-padded form")
  t.equal(parseLsn('1/0'), 0x1_0000_0000n)
  t.equal(formatLsn(0x1_02A51B80n), '1/2A51B80', "Postgres' own text form")
  t.throws(() => parseLsn('nope'), { code: 'EVENT_ID_INVALID' })
})

t.test('I4, I6: a gap\'s mark sorts after every event before the gap and before every event after it', async (t) => {
  const until = 0x2A51B80n
  const mark = gapMark(until)
  t.ok(isEventId(mark), 'a well-formed id')
  t.ok(formatEventId({ lsn: until - 8n, seq: 0x7ffffffe }) < mark, 'an event of a commit that ends at the gap')
  t.ok(mark < formatEventId({ lsn: until, seq: 0 }), 'an event of a commit that starts where the gap ends')
})
