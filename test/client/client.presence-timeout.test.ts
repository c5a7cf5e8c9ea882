import t from 'tap'
import { createEphemeralState, PRESENCE_TIMEOUT_MS } from '../../src/client/ephemeral.ts'
import type { Transport } from '../../src/client/transport.ts'
import { fakeClock } from '../helpers/fake-clock.ts'

// A WebSocket transport as far as presence() sees it: it takes every frame and records it.
function openTransport(): Transport & { sent: Record<string, unknown>[] } {
  const sent: Record<string, unknown>[] = []
  return {
    name: 'websocket',
    sent,
    subscribe() {},
    unsubscribe() {},
    auth() {},
    send(frame) {
      sent.push(frame as unknown as Record<string, unknown>)
      return true
    },
    close() {},
  }
}

t.test('presence() gives up after 10 s without an answer, and ignores the answer that comes later', async (t) => {
  const clock = fakeClock()
  const state = createEphemeralState(clock)
  const transport = openTransport()
  let settled: string | undefined
  const query = state.presence(transport, 'escrow:1').then((users) => { settled = `users ${users.join(',')}` }, (err: Error) => { settled = err.message })
  t.same(transport.sent, [{ op: 'presence', topic: 'escrow:1', ref: 'q1' }], 'the query goes out with its ref')
  t.same(clock.pending(), [PRESENCE_TIMEOUT_MS], 'one timer, of 10 s')
  clock.advance(PRESENCE_TIMEOUT_MS - 1)
  await Promise.resolve()
  t.equal(settled, undefined, 'still waiting a millisecond before')
  clock.advance(1)
  await query
  t.equal(settled, 'walcast client: no presence answer for escrow:1', 'rejected at 10 s, naming the topic')
  state.frame({ op: 'presence', topic: 'escrow:1', users: ['1'], ref: 'q1' }, true)
  t.equal(settled, 'walcast client: no presence answer for escrow:1', 'a late answer changes nothing')
})

t.test('an answer, a refusal or a lost connection before 10 s settles presence() and clears its timer', async (t) => {
  const clock = fakeClock()
  const state = createEphemeralState(clock)
  const transport = openTransport()
  const answered = state.presence(transport, 'escrow:1')
  state.frame({ op: 'presence', topic: 'escrow:1', users: ['1', '2'], ref: 'q1' }, true)
  t.same(await answered, ['1', '2'], 'the answer with the same ref')
  t.same(clock.pending(), [], 'its timer is gone')

  const refused = state.presence(transport, 'escrow:2')
  t.equal(state.refused({ op: 'error', code: 'forbidden', message: 'not yours', ref: 'q2' }, () => {}), true)
  await t.rejects(refused, { message: 'not yours', code: 'forbidden' }, 'a refusal rejects with its code')
  const lost = state.presence(transport, 'escrow:3')
  state.abandon('the connection closed')
  await t.rejects(lost, { message: 'walcast client: the connection closed before the presence answer' })
  t.same(clock.pending(), [], 'no timer left behind')
  await t.rejects(state.presence(undefined, 'escrow:1'), { message: /needs an open WebSocket/ }, 'no connection: refused at once, no timer')
  t.same(clock.pending(), [])
})
