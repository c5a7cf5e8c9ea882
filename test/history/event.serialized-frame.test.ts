import t from 'tap'
import { eventFrame, eventFrameJson, makeEvent, serializedEventFrame, storedEventFromJson } from '../../src/history/event.ts'

t.test('a frame written to many sockets is serialized once per event and topic, byte for byte the same', async (t) => {
  const event = makeEvent({ lsn: 0x10n, seq: 1 }, { type: 'escrow:note', topics: ['escrow:1', 'user:2'], data: { text: 'é "quoted"' } }, new Date(0))
  const first = serializedEventFrame(event, 'escrow:1')
  t.equal(first.json, eventFrameJson(event, 'escrow:1'))
  t.equal(first.bytes, Buffer.byteLength(first.json), 'its UTF-8 size, not its length in characters')
  t.not(first.bytes, first.json.length, 'the payload has a two-byte character')
  t.equal(serializedEventFrame(event, 'escrow:1'), first, 'the second socket gets the same frame object')
  const other = serializedEventFrame(event, 'user:2')
  t.equal(other.json, eventFrameJson(event, 'user:2'), 'another topic gets its own frame')
  t.equal(serializedEventFrame(event, 'escrow:1'), first, 'the first topic\'s frame is kept')
  const readBack = storedEventFromJson({ lsn: 0x10n, seq: 1 }, 'escrow:note', ['escrow:1'], '{"text":"x"}', event.ts)
  t.equal(serializedEventFrame(readBack, 'escrow:1').json, eventFrameJson(readBack, 'escrow:1'), 'events read back from the history too')
})

t.test('frames built from per-event and per-topic parts equal the whole frame serialized, whatever the order asked', async (t) => {
  const a = makeEvent({ lsn: 0x1_0000_0010n, seq: 1 }, { type: 'a "type"', topics: ['escrow:1', 'user:"2"'], data: { text: 'é' } }, new Date(0))
  const b = makeEvent({ lsn: 0x2_0000_0020n, seq: 0 }, { type: 'b', topics: ['escrow:1'], data: { n: 1 } }, new Date(1))
  const whole = (event: typeof a, topic: string) => JSON.stringify(eventFrame(event, topic))
  // Interleaved events: the parts kept for one event never leak into another's frame.
  for (const [event, topic] of [[a, 'escrow:1'], [b, 'escrow:1'], [a, 'user:"2"'], [a, 'escrow:1']] as const) {
    t.equal(eventFrameJson(event, topic), whole(event, topic), `${event.id} for ${topic}`)
  }
  // More topics than the topic texts kept: the cache starts over and stays right.
  let wrong = 0
  for (let i = 0; i < 5_000; i++) if (eventFrameJson(a, `user:${i}\n`) !== whole(a, `user:${i}\n`)) wrong++
  t.equal(wrong, 0, 'every frame of 5,000 topics, some past the bound')
})
