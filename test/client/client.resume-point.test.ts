import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { createClient } from '../../src/client/index.ts'
import type { ResetInfo, ServerErrorInfo, WalcastEvent, WebSocketConstructor } from '../../src/client/types.ts'
import { CLOSE } from '../../src/protocol/close-codes.ts'
import { waitFor } from '../helpers/wait.ts'
import { isSubscribe, scriptedServer, type ScriptedConnection } from './scripted-server.ts'

// What the SDK makes of `subscribed`, `reset` and `error` frames, frame by frame, against a
// scripted WebSocket server; the same behaviour against walcast itself is in
// client.resume-from-head.test.ts.

const id = (n: number): string => `${n.toString(16).padStart(16, '0')}-00000000`
const event = (topic: string, n: number) => ({ op: 'event', id: id(n), topic, type: 'notification:new', data: { title: `#${n}` }, ts: '2026-01-01T00:00:00Z', lsn: '0/1' })

async function setup(t: Test, topics: string[]) {
  const server = await scriptedServer(t)
  const client = createClient({ url: server.url, token: 't', WebSocket: WebSocket as unknown as WebSocketConstructor, transports: ['websocket'], backoff: { initialMs: 10 } })
  t.teardown(() => client.close())
  const events: WalcastEvent[] = []
  const resets: [string, ResetInfo][] = []
  const errors: ServerErrorInfo[] = []
  client.onReset((topic, info) => resets.push([topic, info]))
  let synced = 0
  client.onError((error) => {
    if (error.code === 'sync') synced = Number(error.message)
    else errors.push(error)
  })
  for (const topic of topics) client.subscribe(topic, (e) => events.push(e))
  /** The subscribe frames of connection n, by topic, once `count` topics have one. */
  const subscribes = async (n: number, count = topics.length) => {
    const conn = await server.connection(n)
    await waitFor(() => conn.received.filter(isSubscribe).length >= count, 5000, `subscribes on connection ${n + 1}`)
    return { conn, frames: new Map(conn.received.filter(isSubscribe).map((f) => [f.topic, f])) }
  }
  /**
   * Sends frames, then an error frame the SDK passes to onError and that touches no
   * resume point (an event would: on a WebSocket it vouches for every live topic).
   */
  let sync = 0
  const say = async (conn: ScriptedConnection, ...frames: unknown[]) => {
    for (const frame of frames) conn.send(frame)
    const n = ++sync
    conn.send({ op: 'error', code: 'sync', message: String(n) })
    await waitFor(() => synced === n, 5000, 'frames read')
  }
  return { server, client, events, resets, errors, subscribes, say }
}

t.test('I3: a topic without a resume point takes the subscribed head; a resume point never moves back', async (t) => {
  const { client, events, subscribes, say } = await setup(t, ['user:1', 'escrow:1'])
  const first = await subscribes(0)
  t.equal(first.frames.get('user:1')!.since, undefined, 'a first subscribe has no since')
  t.type(first.frames.get('user:1')!.ref, 'number', 'each subscribe carries a ref')
  await say(first.conn, { op: 'subscribed', topic: 'user:1', ref: first.frames.get('user:1')!.ref, head: id(10) })
  t.equal(client.lastId('user:1'), id(10), 'live from head: the resume point')
  await say(first.conn, event('user:1', 12), event('user:1', 11))
  t.same(events.filter((e) => e.topic === 'user:1').map((e) => e.id), [id(12)], 'an id at or below the resume point is a duplicate')
  await say(first.conn, { op: 'subscribed', topic: 'user:1', head: id(11) })
  t.equal(client.lastId('user:1'), id(12), 'an older head does not move it back')
  await say(first.conn, { op: 'subscribed', topic: 'escrow:1', head: 'not-an-id' }, { op: 'subscribed', topic: 'escrow:1' })
  t.equal(client.lastId('escrow:1'), undefined, 'no usable head (an older server): no resume point')
  first.conn.close(CLOSE.slowConsumer)
  const second = await subscribes(1)
  t.equal(second.frames.get('user:1')!.since, id(12), 'resumes from its last event')
  t.equal(second.frames.get('escrow:1')!.since, undefined)
})

t.test('I4: reset moves the resume point to its head (back too, for unknown_position) and tells onReset why', async (t) => {
  const { client, resets, subscribes, say } = await setup(t, ['user:1'])
  const first = await subscribes(0)
  await say(first.conn, { op: 'subscribed', topic: 'user:1', head: id(10) }, event('user:1', 12))
  // A reset on a live subscription: a gap was recorded.
  await say(first.conn, { op: 'reset', topic: 'user:1', reason: 'stream_gap', head: id(20) })
  t.equal(client.lastId('user:1'), id(20), 'resumes from the head, not from nowhere')
  await say(first.conn, { op: 'reset', topic: 'user:1', reason: 'unknown_position', head: id(5) })
  t.equal(client.lastId('user:1'), id(5), 'the old position was not of this stream: back to the head')
  await say(first.conn, { op: 'reset', topic: 'user:2', reason: 'history_gone', head: id(30) })
  t.same(resets, [['user:1', { reason: 'stream_gap', head: id(20) }], ['user:1', { reason: 'unknown_position', head: id(5) }]], 'a reset of a topic not subscribed is ignored')
  first.conn.close(CLOSE.goingAway)
  const second = await subscribes(1)
  t.equal(second.frames.get('user:1')!.since, id(5), 'the reconnect resumes from the last reset head')
  await say(second.conn, { op: 'reset', topic: 'user:1', reason: 'reason_from_the_future' })
  t.same(resets[2], ['user:1', { reason: undefined, head: undefined }], 'an unknown reason and a missing head are passed as undefined')
  t.equal(client.lastId('user:1'), undefined, 'no head: the resume point is forgotten')
  second.conn.close(CLOSE.goingAway)
  const third = await subscribes(2)
  t.equal(third.frames.get('user:1')!.since, undefined)
})

t.test('a refused subscribe names its topic through the ref; an error of no subscribe drops nothing', async (t) => {
  const { client, errors, subscribes, say } = await setup(t, ['user:1', 'escrow:2'])
  const first = await subscribes(0)
  await say(first.conn,
    { op: 'error', ref: first.frames.get('escrow:2')!.ref, code: 'forbidden', message: 'not allowed to read this topic' },
    { op: 'error', code: 'forbidden', message: 'refreshed token refused' },
    { op: 'error', ref: first.frames.get('user:1')!.ref, code: 'code_from_the_future' })
  t.same(errors, [
    { topic: 'escrow:2', code: 'forbidden', message: 'not allowed to read this topic' },
    { code: 'forbidden', message: 'refreshed token refused' },
    { topic: 'user:1', code: 'code_from_the_future', message: '' },
  ])
  t.equal(client.lastId('escrow:2'), undefined)
  first.conn.close(CLOSE.goingAway)
  await subscribes(1, 1)
  // Sent after the reconnect's subscribes: once it arrived, so would have any other.
  client.subscribe('user:9', () => {})
  const second = await subscribes(1, 2)
  t.same([...second.frames.keys()], ['user:1', 'user:9'], 'the forbidden topic is dropped; the others stay')
})
