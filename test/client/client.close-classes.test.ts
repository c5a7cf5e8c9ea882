import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { backoffDelay, createClient, DEFAULT_BACKOFF } from '../../src/client/index.ts'
import { overloadDelay } from '../../src/client/backoff.ts'
import { afterClose } from '../../src/client/close-policy.ts'
import type { StatusInfo, WebSocketConstructor } from '../../src/client/types.ts'
import { CLOSE } from '../../src/protocol/close-codes.ts'
import { fakeClock } from '../helpers/fake-clock.ts'
import { sleep, waitFor } from '../helpers/wait.ts'
import { isSubscribe, scriptedServer } from './scripted-server.ts'

t.test('the action after a close comes from the close code class (src/protocol/close-codes.ts)', async (t) => {
  t.equal(afterClose({ opened: true, code: CLOSE.tokenExpired }), 'refresh', '4001: a fresh token, at once')
  t.equal(afterClose({ opened: true, status: 401 }), 'refresh', 'an SSE stream reopened with an expired token')
  for (const code of [CLOSE.rateLimited, CLOSE.tooBig]) t.equal(afterClose({ opened: true, code }), 'terminal', `${code}`)
  for (const code of [CLOSE.goingAway, CLOSE.internalError, 1006, 4999]) t.equal(afterClose({ opened: true, code }), 'reconnect', `${code}`)
  for (const code of [CLOSE.slowConsumer, 1013]) t.equal(afterClose({ opened: true, code }), 'overload', `${code}: shed for load`)
  t.equal(afterClose({ opened: true }), 'reconnect', 'no code: a network loss, an SSE stream the server ended')
  t.equal(afterClose({ opened: true, status: 503, error: 'shutting_down' }), 'reconnect', '503 shutting_down: another instance, at once')
  t.equal(afterClose({ opened: true, status: 503, error: 'overloaded' }), 'overload', '503 overloaded: shed for load, as 1013')
})

/** A client on the scripted server whose every connection is closed with `close` once it subscribed. */
async function closedAfterSubscribe(t: Test, close: (n: number) => number | 'terminate', options: { maxAttempts?: number; getToken?: () => string; random?: () => number } = {}) {
  const server = await scriptedServer(t)
  const clock = fakeClock()
  const seen: StatusInfo[] = []
  const client = createClient({
    url: server.url,
    ...(options.getToken ? { getToken: options.getToken } : { token: 't' }),
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    transports: ['websocket'],
    clock,
    random: options.random ?? (() => 1),
    backoff: { maxAttempts: options.maxAttempts ?? 10 },
  })
  t.teardown(() => client.close())
  client.onStatus((s) => seen.push(s))
  client.subscribe('user:1', () => {})
  const closeNth = async (n: number): Promise<void> => {
    const conn = await server.connection(n)
    await conn.next(isSubscribe)
    const how = close(n)
    if (how === 'terminate') conn.terminate()
    else conn.close(how)
  }
  return { server, clock, seen, client, closeNth }
}

for (const [code, what] of [[CLOSE.goingAway, 'going away'], [CLOSE.internalError, 'internal error'], [1006, 'connection lost']] as const) {
  t.test(`I9: close ${code} (${what}): reconnect after the first backoff step, not a failure, resuming with since`, async (t) => {
    const { server, clock, seen, client, closeNth } = await closedAfterSubscribe(t, () => (code === 1006 ? 'terminate' : code))
    const first = await server.connection(0)
    await first.next(isSubscribe)
    first.send({ op: 'subscribed', topic: 'user:1', ref: 1, head: '0000000000000010-00000000' })
    await waitFor(() => client.lastId('user:1'), 5000, 'subscribed')
    await closeNth(0)
    const info = await waitFor(() => seen.find((s) => s.status === 'reconnecting'), 5000, 'reconnecting')
    t.equal(info.failures, 0, 'a drop after a successful open is not a failure')
    t.equal(info.delayMs, backoffDelay(DEFAULT_BACKOFF, 1, 1), 'the first backoff step (1 s at jitter 1)')
    await sleep(200)
    t.equal(server.connections.length, 1, 'not at once')
    clock.advance(info.delayMs!)
    const second = await server.connection(1)
    const subscribe = await second.next(isSubscribe)
    t.equal(subscribe.since, '0000000000000010-00000000', 'resumes from the subscribed head')
    await waitFor(() => client.status === 'open', 5000, 'open again')
    t.equal(seen.at(-1)!.failures, 0)
  })
}

t.test('close 4001: a fresh token and a reconnect at once, not a failure', async (t) => {
  let issued = 0
  const { server, seen, client, closeNth } = await closedAfterSubscribe(t, () => CLOSE.tokenExpired, { getToken: () => `token-${++issued}` })
  await closeNth(0)
  const second = await server.connection(1)
  t.equal(second.token, 'token-2', 'the reconnect uses a token fetched after the close')
  await waitFor(() => client.status === 'open' && seen.filter((s) => s.status === 'open').length === 2, 5000, 'open again')
  t.same(seen.filter((s) => s.status === 'reconnecting').map((s) => [s.delayMs, s.failures]), [[0, 0]], 'reconnecting with no delay and no failure')
})

for (const code of [CLOSE.rateLimited, CLOSE.tooBig]) {
  t.test(`close ${code} is terminal: a failed attempt; in a row they back off and end in failed`, async (t) => {
    const { server, clock, seen, client, closeNth } = await closedAfterSubscribe(t, () => code, { maxAttempts: 3 })
    await closeNth(0)
    const first = await waitFor(() => seen.find((s) => s.status === 'reconnecting'), 5000, 'reconnecting')
    t.match(first, { failures: 1, delayMs: 1000 }, 'counted as a failure, with its backoff')
    clock.advance(1000)
    await closeNth(1)
    const second = await waitFor(() => seen.filter((s) => s.status === 'reconnecting')[1], 5000, 'reconnecting again')
    t.match(second, { failures: 2, delayMs: 2000 }, 'opening again does not clear a terminal close: the wait doubles')
    clock.advance(2000)
    await closeNth(2)
    await waitFor(() => client.status === 'failed', 5000, 'failed')
    t.same(clock.pending().filter((ms) => ms < 10_000), [], 'nothing more is scheduled')
    t.equal(server.connections.length, 3)
    client.retry()
    await waitFor(() => server.connections.length === 4, 5000, 'retry() starts over')
    await waitFor(() => client.status === 'open', 5000, 'open')
    t.equal(seen.at(-1)!.failures, 0, 'and the count with it')
  })
}

for (const [code, what] of [[CLOSE.slowConsumer, 'slow consumer'], [1013, 'try again later']] as const) {
  t.test(`I9: close ${code} (${what}) is an overload: not a failure; the wait is fully jittered, grows while such closes follow one another, and starts over after a healthy connection`, async (t) => {
    // Jitter draws 0.5: half of each step (full jitter: anywhere from 0 to the step).
    const { server, clock, seen, client, closeNth } = await closedAfterSubscribe(t, () => code, { random: () => 0.5 })
    const reconnecting = (n: number) => waitFor(() => seen.filter((s) => s.status === 'reconnecting')[n], 5000, `reconnecting #${n + 1}`)
    const first = await server.connection(0)
    await first.next(isSubscribe)
    first.send({ op: 'subscribed', topic: 'user:1', ref: 1, head: '0000000000000010-00000000' })
    await waitFor(() => client.lastId('user:1'), 5000, 'subscribed')
    await closeNth(0)
    const delays: number[] = []
    for (let n = 0; n < 4; n++) {
      const info = await reconnecting(n)
      t.equal(info.failures, 0, 'not a failure')
      delays.push(info.delayMs!)
      await sleep(50)
      t.equal(server.connections.length, n + 1, 'not at once')
      clock.advance(info.delayMs!)
      if (n < 3) await closeNth(n + 1)
    }
    t.same(delays, [1, 2, 3, 4].map((n) => overloadDelay(DEFAULT_BACKOFF, n, 0.5)), 'each close in a row waits longer')
    t.same(delays, [500, 1000, 2000, 4000])
    const fifth = await server.connection(4)
    const subscribe = await fifth.next(isSubscribe)
    t.equal(subscribe.since, '0000000000000010-00000000', 'every reconnect resumes with since')
    await waitFor(() => client.status === 'open', 5000, 'open again')
    // Open for the healthy period: the next overload close starts at the first step again.
    clock.advance(DEFAULT_BACKOFF.healthyMs)
    fifth.close(code)
    const after = await reconnecting(4)
    t.equal(after.delayMs, overloadDelay(DEFAULT_BACKOFF, 1, 0.5), 'a healthy connection cleared the streak')
  })
}
