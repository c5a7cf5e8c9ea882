import t from 'tap'
import { BusEntryError, decodeEntry, encodeEntry, type BusEntry } from '../../src/bus/entry.ts'
import { formatEventId } from '../../src/event-id.ts'
import { eventFrameJson, makeEvent } from '../../src/history/event.ts'

const id = (lsn: number, seq = 0): string => formatEventId({ lsn: BigInt(lsn), seq })

t.test('every kind of entry survives encode and decode; events frame exactly as they did on the ingesting node', async (t) => {
  const event = makeEvent({ lsn: 0x1a2b3cn, seq: 2 }, { type: 'escrow:funded', topics: ['escrow:1', 'user:2'], data: { amount: '10.50', note: 'é "quoted"' } }, new Date('2026-12-02T01:02:03.456Z'))
  const entries: BusEntry[] = [
    { kind: 'batch', epoch: 'e', n: 2, prev: id(5), gapEnd: 123n, events: [event] },
    { kind: 'live', epoch: 'e', n: 1, prev: id(5), head: id(5), gapEnd: undefined },
    { kind: 'gap', epoch: 'e', n: 3, prev: id(5), gapEnd: 99n, reason: 'truncate' },
    { kind: 'fence', epoch: 'e', n: 4, prev: id(5), gapEnd: 99n },
  ]
  for (const entry of entries) {
    const decoded = decodeEntry(encodeEntry(entry))
    if (entry.kind === 'batch' && decoded.kind === 'batch') {
      t.same({ ...decoded, events: undefined }, { ...entry, events: undefined }, 'batch envelope')
      t.equal(eventFrameJson(decoded.events[0]!, 'escrow:1'), eventFrameJson(event, 'escrow:1'), 'the frame a client gets is the same byte for byte')
      t.same(decoded.events[0]!.data, event.data)
      t.same(decoded.events[0]!.topics, event.topics)
    } else {
      t.same(decoded, entry, entry.kind)
    }
  }
})

t.test('anything else is a BusEntryError, never a crash', async (t) => {
  const good = JSON.parse(encodeEntry({ kind: 'fence', epoch: 'e', n: 1, prev: id(1), gapEnd: undefined })) as Record<string, unknown>
  const bad: [string, string][] = [
    ['not json', '{'],
    ['null', 'null'],
    ['version', JSON.stringify({ ...good, v: 2 })],
    ['number', JSON.stringify({ ...good, n: 0 })],
    ['epoch', JSON.stringify({ ...good, ep: 5 })],
    ['prev', JSON.stringify({ ...good, p: 'x' })],
    ['prev type', JSON.stringify({ ...good, p: 7 })],
    ['gap end', JSON.stringify({ ...good, g: '-1' })],
    ['kind', JSON.stringify({ ...good, k: 'other' })],
    ['empty batch', JSON.stringify({ ...good, k: 'batch', ev: [] })],
    ['event shape', JSON.stringify({ ...good, k: 'batch', ev: [[id(2), 't', ['a'], '{}']] })],
    ['event topics', JSON.stringify({ ...good, k: 'batch', ev: [[id(2), 't', [1], '{}', 'ts']] })],
    ['event id', JSON.stringify({ ...good, k: 'batch', ev: [['x', 't', ['a'], '{}', 'ts']] })],
    ['gap without end', JSON.stringify({ ...good, k: 'gap', r: 'truncate' })],
    ['live without head', JSON.stringify({ ...good, k: 'live' })],
  ]
  for (const [what, text] of bad) t.throws(() => decodeEntry(text), BusEntryError, what)
})
