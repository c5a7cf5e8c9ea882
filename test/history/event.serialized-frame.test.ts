import t from 'tap'
import { eventFrameJson, makeEvent, serializedEventFrame, storedEventFromJson } from '../../src/history/event.ts'

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
