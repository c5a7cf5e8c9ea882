import t from 'tap'
import { parseClientFrame, MAX_REF_LENGTH, MAX_TOPIC_LENGTH } from '../../src/protocol/client-frames.ts'

// Pure logic, no server: what every WebSocket frame goes through first.

t.test('I11: well-formed frames parse to exactly their fields', async (t) => {
  t.same(parseClientFrame('{"op":"subscribe","topic":"escrow:1"}'), { op: 'subscribe', topic: 'escrow:1' })
  t.same(parseClientFrame('{"op":"subscribe","topic":"escrow:1","since":"00000000016b3748-00000002","ref":7,"extra":true}'),
    { op: 'subscribe', topic: 'escrow:1', since: '00000000016b3748-00000002', ref: 7 }, 'unknown fields are dropped')
  t.same(parseClientFrame('{"op":"subscribe","topic":"a","since":null}'), { op: 'subscribe', topic: 'a' }, 'since: null is no since')
  t.same(parseClientFrame('{"op":"unsubscribe","topic":"a","ref":"u"}'), { op: 'unsubscribe', topic: 'a', ref: 'u' })
  t.same(parseClientFrame('{"op":"auth","token":"x.y.z"}'), { op: 'auth', token: 'x.y.z' })
  t.same(parseClientFrame('{"op":"ping","ref":1}'), { op: 'ping', ref: 1 })
})

t.test('I11: malformed frames become errors with a code and a message, never a throw', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['not json', 'bad_request', /not JSON/],
    ['[1,2]', 'bad_request', /JSON object/],
    ['null', 'bad_request', /JSON object/],
    ['{"topic":"a"}', 'bad_request', /op is required/],
    ['{"op":"hello"}', 'unknown_op', /unknown op "hello"/],
    ['{"op":"subscribe"}', 'bad_request', /topic/],
    ['{"op":"subscribe","topic":""}', 'bad_request', /topic/],
    [JSON.stringify({ op: 'subscribe', topic: 'x'.repeat(MAX_TOPIC_LENGTH + 1) }), 'bad_request', /longer than/],
    ['{"op":"subscribe","topic":"a","since":"yesterday"}', 'bad_request', /since must be an event id/],
    ['{"op":"subscribe","topic":"a","since":"0000000000000001-80000000"}', 'bad_request', /since must be an event id/],
    ['{"op":"auth"}', 'bad_request', /token/],
    [JSON.stringify({ op: 'ping', ref: 'r'.repeat(MAX_REF_LENGTH + 1) }), 'bad_request', /ref must be/],
    ['{"op":"ping","ref":{"a":1}}', 'bad_request', /ref must be/],
  ]
  for (const [text, code, message] of cases) {
    const frame = parseClientFrame(text)
    t.match(frame, { op: 'invalid', code, message }, text.slice(0, 60))
  }
  t.match(parseClientFrame('{"op":"subscribe","ref":"r1"}'), { op: 'invalid', ref: 'r1' }, 'the ref of a refused frame comes back, so the client can match it')
  t.equal((parseClientFrame(`{"op":"${'x'.repeat(1000)}"}`) as { message: string }).message.length < 60, true, 'an unknown op is quoted only in part')
})
