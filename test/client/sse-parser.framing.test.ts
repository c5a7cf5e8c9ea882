import t from 'tap'
import { createSseParser, type SseMessage } from '../../src/client/sse-parser.ts'
import { streamResumeId } from '../../src/client/sse-transport.ts'
import { tokenExpiry } from '../../src/client/token.ts'
import { endpoint, parseFrame } from '../../src/client/transport.ts'

t.test('messages split anywhere, CRLF or LF, comments and unknown fields ignored', async (t) => {
  const got: SseMessage[] = []
  const feed = createSseParser((m) => got.push(m))
  const text = 'retry: 1000\r\n: heartbeat\r\n\r\nid: a\r\nevent: x\r\ndata: {"op"\r\ndata: :1}\r\nfoo: bar\r\n\r\nevent: y\ndata\n\ndata: plain\n\n'
  for (const ch of text) feed(ch)
  t.same(got, [
    { event: 'x', data: '{"op"\n:1}', id: 'a' },
    { event: 'y', data: '', id: undefined },
    { event: 'message', data: 'plain', id: undefined },
  ])
})

t.test('helpers: resume point, token expiry, endpoints, frames read as src/protocol declares them', async (t) => {
  t.equal(streamResumeId(new Map([['a', 'b'], ['c', undefined], ['d', 'a']])), 'a', 'the oldest last id of the topics')
  t.equal(streamResumeId(new Map([['a', undefined]])), undefined)
  const payload = Buffer.from(JSON.stringify({ sub: '1', exp: 1_900_000_000 })).toString('base64url')
  t.equal(tokenExpiry(`h.${payload}.s`), 1_900_000_000_000)
  t.equal(tokenExpiry('opaque'), undefined, 'a token that is not a JWT has no known expiry')
  t.equal(tokenExpiry('h.%%%.s'), undefined)
  t.equal(tokenExpiry(`h.${Buffer.from('{"sub":"1"}').toString('base64url')}.s`), undefined, 'no exp claim')
  t.equal(endpoint('https://x.example/base', '/v1/ws', true).toString(), 'wss://x.example/base/v1/ws')
  t.equal(endpoint('http://127.0.0.1:1/', '/v1/sse').toString(), 'http://127.0.0.1:1/v1/sse')
  t.same(parseFrame('{"op":"pong"}'), { op: 'pong' })
  t.equal(parseFrame('not json'), undefined)
  t.equal(parseFrame('{"no":"op"}'), undefined)
  t.equal(parseFrame(new Uint8Array(2)), undefined, 'binary frames are not protocol frames')
  const head = '0000000000000001-00000000'
  t.same(parseFrame(JSON.stringify({ op: 'reset', topic: 't', reason: 'stream_gap', head, extra: 1 })), { op: 'reset', topic: 't', reason: 'stream_gap', head }, 'a reset as the protocol declares it')
  t.same(parseFrame(JSON.stringify({ op: 'subscribed', topic: 't', ref: 3, head: 'x' })), { op: 'subscribed', topic: 't', ref: 3 }, 'a head that is not an event id is left out')
  t.equal(parseFrame(JSON.stringify({ op: 'event', topic: 't', id: 'x', type: 'y' })), undefined, 'an event without a usable id is not read')
  t.equal(parseFrame(JSON.stringify({ op: 'subscribed' })), undefined, 'a topic frame without a topic is not read')
  t.equal(parseFrame('{"op":"hello"}'), undefined, 'an op this SDK does not know is ignored')
  t.equal(parseFrame('[1]'), undefined)
})
