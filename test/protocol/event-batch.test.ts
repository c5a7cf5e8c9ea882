import t from 'tap'
import { parseFrames } from '../../src/client/transport.ts'
import { serializedEventFrame, storedEventFromJson } from '../../src/history/event.ts'
import { parseEventId } from '../../src/event-id.ts'
import { parseClientFrame } from '../../src/protocol/client-frames.ts'
import { batchedBytes, batchHead, batchLength, batchMembers, EVENT_BATCH_MAX_BYTES, takeBatch, type FrameText } from '../../src/protocol/event-batch.ts'

const TOPIC = 'escrow:7'
const id = (n: number): string => `${n.toString(16).padStart(16, '0')}-00000000`

/** Event frames as the server caches them, with payloads of `padding` characters (non-ASCII included). */
function frames(count: number, padding = 200): FrameText[] {
  return Array.from({ length: count }, (_, i) => {
    const event = storedEventFromJson(parseEventId(id(0x1000 + i)), 'escrow:status_changed', [TOPIC], JSON.stringify({ n: i, note: `é${'p'.repeat(padding)}` }), '2026-12-02T08:00:00.000Z')
    return serializedEventFrame(event, TOPIC)
  })
}

/** Every message a replay of `all` is written as, in order. */
function messages(all: readonly FrameText[], maxBytes: number): ReturnType<typeof takeBatch>[] {
  const head = batchHead(TOPIC)
  const out: ReturnType<typeof takeBatch>[] = []
  for (let at = 0; at < all.length; at += out.at(-1)!.count) out.push(takeBatch(all, at, head, maxBytes))
  return out
}

t.test('I3: batch frames carry every event frame once, in order, each as it travels alone', async (t) => {
  const all = frames(1000)
  const sent = messages(all, EVENT_BATCH_MAX_BYTES)
  t.ok(sent.length > 1, `${sent.length} batch frames: the replay crosses batch boundaries`)
  const members: unknown[] = []
  for (const message of sent) {
    const value = JSON.parse(message.text) as { op: string; topic: string; events: unknown[] }
    t.equal(value.op, 'events')
    t.equal(value.topic, TOPIC)
    t.equal(value.events.length, message.count)
    members.push(...value.events)
  }
  t.same(members, all.map((frame) => JSON.parse(frame.json)), 'the members are the event frames, in order, none twice')
})

t.test('a batch frame is bounded by bytes, and says its own UTF-8 length', async (t) => {
  const all = frames(500)
  for (const maxBytes of [EVENT_BATCH_MAX_BYTES, 4096, 1000]) {
    const sent = messages(all, maxBytes)
    for (const message of sent) {
      t.equal(message.bytes, Buffer.byteLength(message.text), 'bytes is the UTF-8 length')
      if (message.count > 1) t.ok(message.bytes <= maxBytes, `a batch stays within ${maxBytes} bytes`)
    }
    // A bound that leaves no room for a second frame would have to make it one message each.
    const next = sent[0]!
    t.ok(next.bytes + 1 + all[next.count]!.bytes > maxBytes, 'a batch is as full as the bound allows')
    t.equal(batchedBytes(all, batchHead(TOPIC), maxBytes), sent.reduce((sum, m) => sum + m.bytes, 0), 'batchedBytes predicts what is written')
  }
})

t.test('an event larger than the bound travels alone, as a plain event frame', async (t) => {
  const small = frames(3, 10)
  const big = frames(1, 5000)[0]!
  const all = [small[0]!, big, small[1]!, small[2]!]
  const sent = messages(all, 2048)
  t.same(sent.map((m) => m.count), [1, 1, 2], 'the big one alone; the small ones before and after it batched where they can')
  t.equal(sent[1]!.text, big.json, 'sent as its own event frame')
  t.equal(sent[0]!.text, small[0]!.json, 'a lone small frame before a big one is a plain event frame too')
  t.equal(batchLength(all, 2, batchHead(TOPIC), 2048), 2)
})

t.test('the SDK reads a batch frame as its events, in order, and drops members that are not events', async (t) => {
  const all = frames(5, 10)
  const [message] = messages(all, EVENT_BATCH_MAX_BYTES)
  t.same(parseFrames(message!.text).map((f) => f.op === 'event' ? f.id : f.op), all.map((_, i) => id(0x1000 + i)))
  const mixed = JSON.stringify({ op: 'events', topic: TOPIC, events: [JSON.parse(all[0]!.json), { op: 'pong' }, 'x', null, { op: 'event', topic: TOPIC, id: 'bad' }, JSON.parse(all[1]!.json)] })
  t.same(parseFrames(mixed).map((f) => f.op === 'event' ? f.id : f.op), [id(0x1000), id(0x1001)], 'only well-formed event members')
  t.same(parseFrames(JSON.stringify({ op: 'events', topic: TOPIC, events: 'nope' })), [], 'a batch without an array carries nothing')
  t.same(parseFrames('{"op":"pong","ref":1}'), [{ op: 'pong', ref: 1 }], 'any other frame is itself')
  t.same(parseFrames('not json'), [])
  t.same(parseFrames(new Uint8Array(2)), [], 'binary messages are not frames')
  t.equal(batchMembers({ op: 'event' }), undefined)
  t.equal(batchMembers(null), undefined)
})

t.test('I11: subscribe takes batch only as a boolean', async (t) => {
  t.same(parseClientFrame('{"op":"subscribe","topic":"escrow:1","batch":true}'), { op: 'subscribe', topic: 'escrow:1', batch: true })
  t.same(parseClientFrame('{"op":"subscribe","topic":"escrow:1","batch":false}'), { op: 'subscribe', topic: 'escrow:1' }, 'false is the default: per-event frames')
  t.same(parseClientFrame('{"op":"subscribe","topic":"escrow:1","batch":"yes","ref":2}'), { op: 'invalid', code: 'bad_request', message: 'batch must be true or false', ref: 2 })
})
