import t from 'tap'
import { eventFrame, eventFrameJson, makeEvent, stringJson, withTopics } from '../../src/history/event.ts'
import { formatEventId } from '../../src/event-id.ts'
import { timestamptzValue } from '../../src/replication/timestamp.ts'
import pg from 'pg'
import { jsonValue } from '../../src/catalog/values.ts'

t.test('a live event\'s data is its JSON text parsed, once, and what clients are sent', async (t) => {
  const draft = { type: 'escrow:note', topics: ['escrow:1'], data: { text: 'é "quoted"', n: 1.5, gone: undefined, inf: Number.POSITIVE_INFINITY, nested: { a: [1, null] } } }
  const event = makeEvent({ lsn: 0x10n, seq: 1 }, draft, new Date(0))
  t.equal(event.dataJson, JSON.stringify(draft.data))
  t.strictSame(event.data, JSON.parse(JSON.stringify(draft.data)), 'the values the frame carries: undefined dropped, Infinity null')
  t.not(event.data, draft.data, 'the mapper\'s object is not kept')
  t.equal(event.data, event.data, 'parsed once')
  t.same(Object.keys(event).sort(), ['dataJson', 'id', 'lsn', 'seq', 'topics', 'ts', 'type'], 'no parse state among its own properties')
  const frame = JSON.parse(eventFrameJson(event, 'escrow:1')) as Record<string, unknown>
  t.strictSame(frame.data, event.data)
})

t.test('withTopics keeps everything but the topics, data included (a spread would lose it)', async (t) => {
  const event = makeEvent({ lsn: 0x20n, seq: 3 }, { type: 'x', topics: ['a:1', 'b:2'], data: { k: 'v' } }, new Date(5))
  const narrowed = withTopics(event, ['b:2'])
  t.strictSame(narrowed.topics, ['b:2'])
  t.strictSame(narrowed.data, { k: 'v' })
  for (const key of ['id', 'lsn', 'seq', 'type', 'ts', 'dataJson'] as const) t.equal(narrowed[key], event[key], key)
  t.equal(eventFrameJson(narrowed, 'b:2'), JSON.stringify(eventFrame(event, 'b:2')))
  const readBack = { id: event.id, lsn: event.lsn, seq: event.seq, topics: event.topics, type: event.type, data: { k: 'v' }, ts: event.ts }
  t.notOk('dataJson' in withTopics(readBack, ['a:1']), 'an event without payload text stays without')
})

t.test('events of one topic share one frozen topics array; others keep the mapper\'s', async (t) => {
  const a = makeEvent({ lsn: 0x30n, seq: 0 }, { type: 'x', topics: [`escrow:${7}`], data: {} }, new Date(0))
  const b = makeEvent({ lsn: 0x30n, seq: 1 }, { type: 'x', topics: [`escrow:${7}`], data: {} }, new Date(0))
  t.equal(a.topics, b.topics)
  t.ok(Object.isFrozen(a.topics))
  const two = ['escrow:7', 'user:1']
  t.equal(makeEvent({ lsn: 0x30n, seq: 2 }, { type: 'x', topics: two, data: {} }, new Date(0)).topics, two)
  // Past the bound the arrays start over and stay right.
  let wrong = 0
  for (let i = 0; i < 5_000; i++) {
    const e = makeEvent({ lsn: 0x31n, seq: i }, { type: 'x', topics: [`t:${i}`], data: {} }, new Date(0))
    if (e.topics.length !== 1 || e.topics[0] !== `t:${i}`) wrong++
  }
  t.equal(wrong, 0)
})

t.test('remembered JSON texts equal JSON.stringify, past their bound too', async (t) => {
  let wrong = 0
  for (let i = 0; i < 5_000; i++) {
    const text = `type "${i}" é\n`
    if (stringJson(text) !== JSON.stringify(text)) wrong++
  }
  t.equal(wrong, 0)
})

t.test('event ids: sequence texts formatted once below 4096, directly above', async (t) => {
  for (const seq of [0, 1, 15, 16, 255, 4095, 4096, 4097, 65_535, 0x7fffffff, 3, 4095]) {
    t.equal(formatEventId({ lsn: 0xabcn, seq }), `0000000000000abc-${seq.toString(16).padStart(8, '0')}`, String(seq))
  }
})

t.test('timestamptz values alternating seconds and spellings keep their own second', async (t) => {
  const viaDate = (text: string): unknown => jsonValue(pg.types.getTypeParser(1184)(text))
  const samples = ['2026-12-02 11:27:32.5+00', '2026-12-02 11:27:32+00', '2026-12-02 11:27:32.25+00', '2026-12-02 11:27:33.25+00', '2026-12-02 11:27:32.999+00',
    '2026-12-03 11:27:32.5+00', '2026-12-02 11:27:32+00', '2026-12-02 11:27:32.5+01', '2026-12-02 11:27:32.5+00', '2026-12-02 11:27:32.+00']
  for (const text of samples) t.same(jsonValue(timestamptzValue(text)), viaDate(text), text)
})
