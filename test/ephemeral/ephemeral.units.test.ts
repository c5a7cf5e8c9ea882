import t from 'tap'
import type { Catalog } from '../../src/catalog/catalog.ts'
import { checkCatalogShape } from '../../src/catalog/validate.ts'
import { SendBudget, dataBytes } from '../../src/ephemeral/limits.ts'
import { PresenceBook } from '../../src/ephemeral/presence.ts'
import { compileEphemeral, DEFAULT_MAX_BYTES, DEFAULT_PER_SECOND } from '../../src/ephemeral/spec.ts'
import { parseClientFrame } from '../../src/protocol/client-frames.ts'
import { readFrame } from '../../src/client/transport.ts'
import chat from '../fixtures/catalog-chat.ts'
import projects from '../fixtures/catalog-projects.ts'

// Pure parts of ephemeral messages and presence: no server, no Redis.

t.test('publish and presence frames parse to exactly their fields; malformed ones get bad_request', async (t) => {
  t.same(parseClientFrame('{"op":"publish","topic":"chat:1","type":"chat:typing","data":{"a":1},"ref":"p","x":1}'), { op: 'publish', topic: 'chat:1', type: 'chat:typing', data: { a: 1 }, ref: 'p' })
  t.same(parseClientFrame('{"op":"publish","topic":"chat:1","type":"chat:typing"}'), { op: 'publish', topic: 'chat:1', type: 'chat:typing' }, 'data is optional')
  t.same(parseClientFrame('{"op":"publish","topic":"chat:1","type":"t","data":null}'), { op: 'publish', topic: 'chat:1', type: 't', data: null })
  t.same(parseClientFrame('{"op":"presence","topic":"chat:1","ref":2,"type":"ignored"}'), { op: 'presence', topic: 'chat:1', ref: 2 })
  for (const text of ['{"op":"publish","type":"t"}', '{"op":"publish","topic":"chat:1"}', '{"op":"publish","topic":"chat:1","type":""}',
    '{"op":"publish","topic":"chat:1","type":["t"]}', JSON.stringify({ op: 'publish', topic: 'chat:1', type: 't'.repeat(65) }), '{"op":"presence"}', '{"op":"presence","topic":3}',
    JSON.stringify({ op: 'presence', topic: 'c'.repeat(257) })]) {
    const parsed = parseClientFrame(text)
    t.same([parsed.op, 'code' in parsed ? parsed.code : undefined], ['invalid', 'bad_request'], text.slice(0, 60))
  }
})

t.test('a send budget lets a burst through, refuses the rest without going into debt, and refills', async (t) => {
  let now = 0
  const budget = new SendBudget(5, 10, () => now)
  const first = Array.from({ length: 15 }, () => budget.take())
  t.equal(first.filter(Boolean).length, 10, 'the burst passes')
  t.same(first.slice(10), [false, false, false, false, false], 'the rest are refused')
  now += 199
  t.notOk(budget.take(), 'under one token refilled: still refused')
  now += 2
  t.ok(budget.take(), 'one token after 200 ms: refused messages drew nothing')
  now += 60_000
  t.equal(Array.from({ length: 12 }, () => budget.take()).filter(Boolean).length, 10, 'the bucket never holds more than the burst')
  t.equal(dataBytes(undefined), 4, 'absent data counts as null')
  t.equal(dataBytes({ é: 'ü' }), Buffer.byteLength('{"é":"ü"}'), 'UTF-8 bytes of the JSON')
})

t.test('the catalog\'s ephemeral rules resolve by topic, with defaults', async (t) => {
  const rules = compileEphemeral(chat as unknown as Catalog)
  t.same({ ...rules('chat:7'), events: [...rules('chat:7')!.events] }, { pattern: 'chat:{id}', events: ['chat:typing', 'chat:stopped-typing'], maxBytes: 256, perSecond: 5, burst: 10, presence: true })
  t.equal(rules('room:7'), undefined, 'a readable topic that is not ephemeral')
  t.equal(rules('elsewhere'), undefined, 'a topic no rule covers')
  const plain = compileEphemeral({ access: chat.access, ephemeral: { 'room:{id}': { events: ['room:cursor'] } } })
  t.same([plain('room:1')?.maxBytes, plain('room:1')?.perSecond, plain('room:1')?.burst, plain('room:1')?.presence], [DEFAULT_MAX_BYTES, DEFAULT_PER_SECOND, 10, false])
  t.equal(compileEphemeral(projects as unknown as Catalog)('project:1'), undefined, 'a catalog without ephemeral topics')
  t.equal(compileEphemeral({ access: { 'a:{id}': { kind: 'self' } }, ephemeral: { 'a:{id}': { events: ['x'], perSecond: 0.5 } } })('a:1')?.burst, 1, 'a burst of at least one')
})

t.test('a wrong ephemeral section is refused at start-up with one sentence naming it', async (t) => {
  const base = chat as unknown as Catalog
  const spec = base.ephemeral!['chat:{id}']!
  const variant = (ephemeral: unknown): unknown => ({ ...base, ephemeral })
  const mistakes: [string, unknown, RegExp][] = [
    ['not an object', variant(['chat:{id}']), /ephemeral is not an object/],
    ['a pattern with no access rule', variant({ 'dm:{id}': spec }), /ephemeral dm:\{id\} has no access rule/],
    ['a follow set', {
      ...base,
      access: { ...base.access, 'chat:{id}': { ...base.access['chat:{id}'], grantedBy: { event: 'chat:member_left', key: 'roomId', user: 'userId' } }, 'user:{id}:chats': { kind: 'follow', of: 'chat:{id}' } },
      ephemeral: { 'user:{id}:chats': spec },
    }, /ephemeral user:\{id\}:chats is a follow set/],
    ['no events', variant({ 'chat:{id}': { events: [] } }), /ephemeral chat:\{id\} declares no events/],
    ['no spec', variant({ 'chat:{id}': null }), /declares no events/],
    ['a type that is no name', variant({ 'chat:{id}': { events: ['chat typing'] } }), /event "chat typing" is not a type name/],
    ['a type that is not a string', variant({ 'chat:{id}': { events: [7] } }), /event 7 is not a type name/],
    ['a durable event', variant({ 'chat:{id}': { events: ['chat:message'] } }), /event chat:message is also a durable event/],
    ['maxBytes zero', variant({ 'chat:{id}': { ...spec, maxBytes: 0 } }), /maxBytes must be a whole number between 1 and 65536/],
    ['maxBytes huge', variant({ 'chat:{id}': { ...spec, maxBytes: 1e9 } }), /maxBytes/],
    ['perSecond zero', variant({ 'chat:{id}': { ...spec, perSecond: 0 } }), /perSecond must be a number greater than zero/],
    ['perSecond infinite', variant({ 'chat:{id}': { ...spec, perSecond: Infinity } }), /perSecond/],
    ['presence not a boolean', variant({ 'chat:{id}': { ...spec, presence: 'yes' } }), /presence must be true or false/],
  ]
  for (const [what, catalog, message] of mistakes) {
    t.throws(() => checkCatalogShape(catalog, 'chat.ts'), { code: 'CATALOG_INVALID', message }, what)
  }
  t.equal(checkCatalogShape(base, 'chat.ts'), base, 'the fixture itself is fine')
})

t.test('presence bookkeeping: a user with two connections is one presence; other nodes\' entries count until they leave or expire', async (t) => {
  const book = new PresenceBook()
  t.same(book.join('chat:1', '10'), [{ topic: 'chat:1', change: 'joined', userId: '10' }])
  t.same(book.join('chat:1', '10'), [], 'a second tab: no change')
  t.same(book.join('chat:1', '11'), [{ topic: 'chat:1', change: 'joined', userId: '11' }])
  t.same(book.users('chat:1'), ['10', '11'])
  t.same(book.leave('chat:1', '10'), [], 'one tab of two left')
  t.same(book.leave('chat:1', '12'), [], 'someone who was never there')
  t.same(book.leave('chat:2', '10'), [], 'a topic no one is on')
  t.same(book.remoteChange('chat:9', 'B', '20', 100, 0), [], 'another node\'s change to a topic this node has no one on is ignored')

  t.same(book.remoteChange('chat:1', 'B', '20', 1000, 0), [{ topic: 'chat:1', change: 'joined', userId: '20' }], 'a user on another node joins')
  t.same(book.remoteChange('chat:1', 'C', '20', 1000, 0), [], 'the same user on a third node: no change')
  t.same(book.remoteChange('chat:1', 'B', '11', 1000, 0), [], 'a local user also on another node: no change')
  t.same(book.remoteChange('chat:1', 'B', '20', undefined, 10), [], 'leaves one node, still on C')
  t.same(book.users('chat:1'), ['10', '11', '20'])
  t.same(book.localEntries(), [['chat:1', ['10', '11']]])
  t.same(book.topics(), ['chat:1'])

  // A read issued at 5 predates the leave at 10 of B's user 20: the leave stands. C's
  // entry is gone from the read (expired there), and D's appears.
  t.same(book.replaceRemote('chat:1', [{ node: 'B', userId: '20', expiresAt: 2000 }, { node: 'D', userId: '30', expiresAt: 2000 }], 5),
    [{ topic: 'chat:1', change: 'joined', userId: '30' }, { topic: 'chat:1', change: 'left', userId: '20' }])
  t.same(book.replaceRemote('chat:1', [{ node: 'D', userId: '30', expiresAt: 3000 }], 50), [], 'a later read that agrees changes nothing')
  t.same(book.replaceRemote('chat:9', [], 50), [], 'a topic no one here is on')
  t.same(book.expire(2999), [], 'nothing expired yet')
  t.same(book.expire(3000), [{ topic: 'chat:1', change: 'left', userId: '30' }], 'D stopped refreshing: its user expires')
  t.same(book.remoteChange('chat:1', 'B', '11', 4000, 3000), [], 'a local user seen on another node too')
  t.same(book.expire(5000), [], 'an expired entry of a user still here locally changes nothing')

  t.same(book.leave('chat:1', '10'), [{ topic: 'chat:1', change: 'left', userId: '10' }])
  t.same(book.remoteChange('chat:1', 'B', '40', 9000, 5000), [{ topic: 'chat:1', change: 'joined', userId: '40' }])
  t.same(book.leave('chat:1', '11'), [{ topic: 'chat:1', change: 'left', userId: '11' }], 'the last local user leaves')
  t.same(book.topics(), [], 'and the topic, with the other nodes\' entries, is forgotten')
  t.same(book.users('chat:1'), [])
  t.ok(book.isLocal('chat:1', '11') === false)
})

t.test('the SDK reads ephemeral and presence frames, and ignores malformed ones', async (t) => {
  t.same(readFrame({ op: 'ephemeral', topic: 'chat:1', type: 'chat:typing', from: '10', ts: 'T', data: { a: 1 }, id: 'x' }), { op: 'ephemeral', topic: 'chat:1', type: 'chat:typing', data: { a: 1 }, from: '10', ts: 'T' }, 'an id is not kept: it is no event')
  t.same(readFrame({ op: 'ephemeral', topic: 'chat:1', type: 't', from: '10' }), { op: 'ephemeral', topic: 'chat:1', type: 't', data: null, from: '10', ts: '' })
  t.same(readFrame({ op: 'presence', topic: 'chat:1', joined: '10' }), { op: 'presence', topic: 'chat:1', joined: '10' })
  t.same(readFrame({ op: 'presence', topic: 'chat:1', left: '10' }), { op: 'presence', topic: 'chat:1', left: '10' })
  t.same(readFrame({ op: 'presence', topic: 'chat:1', users: ['10', 7, '11'], ref: 'q1' }), { op: 'presence', topic: 'chat:1', users: ['10', '11'], ref: 'q1' })
  for (const bad of [{ op: 'ephemeral', type: 't', from: '1' }, { op: 'ephemeral', topic: 'c', from: '1' }, { op: 'ephemeral', topic: 'c', type: 't' },
    { op: 'presence', joined: '1' }, { op: 'presence', topic: 'c' }, { op: 'presence', topic: 'c', joined: 1 }]) {
    t.equal(readFrame(bad), undefined, JSON.stringify(bad))
  }
})
