import t from 'tap'
import WebSocket from 'ws'
import { createClient } from '../../src/client/index.ts'
import { backoffDelay, DEFAULT_BACKOFF, OverloadStreak, overloadDelay } from '../../src/client/backoff.ts'
import type { StatusInfo, WebSocketConstructor } from '../../src/client/types.ts'
import { fakeClock } from '../helpers/fake-clock.ts'
import { freePort } from '../helpers/own-server.ts'
import { waitFor } from '../helpers/wait.ts'

t.test('backoff: 1 s doubling to a 30 s cap, jitter only shortens it', async (t) => {
  t.same([1, 2, 3, 4, 5, 6, 7, 12].map((n) => backoffDelay(DEFAULT_BACKOFF, n, 1)), [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000])
  t.same([1, 5, 6].map((n) => backoffDelay(DEFAULT_BACKOFF, n, 0)), [500, 8000, 15000], 'jitter factor 0.5 at its lowest')
  t.equal(backoffDelay(DEFAULT_BACKOFF, 3, 7), 4000, 'a random source out of range is clamped')
})

t.test('overload backoff: the same steps with full jitter, from 0 up to the step', async (t) => {
  t.same([1, 2, 3, 6, 12].map((n) => overloadDelay(DEFAULT_BACKOFF, n, 1)), [1000, 2000, 4000, 30000, 30000], 'the step at jitter 1')
  t.same([1, 4].map((n) => overloadDelay(DEFAULT_BACKOFF, n, 0)), [0, 0], 'and nothing at jitter 0')
  t.equal(overloadDelay(DEFAULT_BACKOFF, 3, 0.25), 1000)
  t.equal(overloadDelay(DEFAULT_BACKOFF, 3, -2), 0, 'a random source out of range is clamped')
  t.equal(overloadDelay(DEFAULT_BACKOFF, 3, 7), 4000)
  // A thousand clients shed at once come back spread over the whole step, not in a wave.
  const draws = Array.from({ length: 1000 }, (_, i) => overloadDelay(DEFAULT_BACKOFF, 1, i / 999))
  const buckets = [0, 0, 0, 0]
  for (const ms of draws) buckets[Math.min(3, Math.floor(ms / 250))]!++
  t.ok(buckets.every((n) => n >= 240 && n <= 260), `evenly spread over 0–1 s: ${buckets.join(', ')}`)
})

t.test('overload streak: grows with each close in a row, starts over after a healthy connection or a reset', async (t) => {
  const policy = { ...DEFAULT_BACKOFF, healthyMs: 10_000 }
  const streak = new OverloadStreak(policy)
  t.equal(streak.closed(0, 1), 1000, 'a close with no open before it: first step')
  streak.opened(1000)
  t.equal(streak.closed(2000, 1), 2000, 'open for 1 s: still a streak')
  streak.opened(5000)
  t.equal(streak.closed(14_999, 1), 4000)
  t.equal(streak.closes, 3)
  streak.opened(20_000)
  t.equal(streak.closed(30_000, 1), 1000, 'open for the healthy period: the streak starts over')
  t.equal(streak.closes, 1)
  streak.reset()
  t.equal(streak.closes, 0)
  t.equal(streak.closed(40_000, 0.5), 500)
})

t.test('nothing listening: every transport fails, the schedule follows the backoff, failed after 10, retry() starts over', async (t) => {
  const port = await freePort()
  const clock = fakeClock()
  const seen: StatusInfo[] = []
  const client = createClient({
    url: `http://127.0.0.1:${port}`,
    token: 'not-needed',
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    clock,
    random: () => 1,
  })
  t.teardown(() => client.close())
  client.onStatus((info) => seen.push(info))
  t.equal(seen[0]!.status, 'connecting', 'observable starts with the current status')
  client.subscribe('user:1', () => t.fail('no event can arrive'))

  const delays: number[] = []
  for (let failures = 1; failures < 10; failures++) {
    const info = await waitFor(() => seen.find((s) => s.status === 'reconnecting' && s.failures === failures), 10_000, `failure ${failures}`)
    delays.push(info.delayMs!)
    t.equal(client.status, 'reconnecting')
    clock.advance(info.delayMs!)
  }
  t.same(delays, [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000], 'the wait after each failed attempt')
  await waitFor(() => client.status === 'failed', 10_000, 'failed')
  t.equal(seen.at(-1)!.failures, 10, 'failed after the 10th attempt')
  t.same(clock.pending().filter((ms) => ms > 10_000), [], 'no reconnect is scheduled once failed')

  client.retry()
  t.equal(client.status, 'connecting', 'retry() starts again at once')
  const again = await waitFor(() => seen.slice(seen.findIndex((s) => s.status === 'failed')).find((s) => s.status === 'reconnecting'), 10_000, 'retry failure')
  t.equal(again.failures, 1, 'the count starts over')
  t.equal(again.delayMs, 1000)
  t.equal(client.transport, undefined, 'no transport while not open')
})

t.test('without a token source the client refuses to start', async (t) => {
  t.throws(() => createClient({ url: 'http://127.0.0.1:1' }), /token or getToken/)
})
