import t from 'tap'
import WebSocket from 'ws'
import { createClient } from '../../src/client/index.ts'
import { backoffDelay, DEFAULT_BACKOFF } from '../../src/client/backoff.ts'
import type { StatusInfo, WebSocketConstructor } from '../../src/client/types.ts'
import { fakeClock } from '../helpers/fake-clock.ts'
import { freePort } from '../helpers/own-server.ts'
import { waitFor } from '../helpers/wait.ts'

t.test('backoff: 1 s doubling to a 30 s cap, jitter only shortens it', async (t) => {
  t.same([1, 2, 3, 4, 5, 6, 7, 12].map((n) => backoffDelay(DEFAULT_BACKOFF, n, 1)), [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000])
  t.same([1, 5, 6].map((n) => backoffDelay(DEFAULT_BACKOFF, n, 0)), [500, 8000, 15000], 'jitter factor 0.5 at its lowest')
  t.equal(backoffDelay(DEFAULT_BACKOFF, 3, 7), 4000, 'a random source out of range is clamped')
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
