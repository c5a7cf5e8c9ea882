import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { createClient } from '../../src/client/index.ts'
import { backoffDelay, overloadDelay, DEFAULT_BACKOFF } from '../../src/client/backoff.ts'
import { streamCloseCode } from '../../src/client/sse-transport.ts'
import type { StatusInfo } from '../../src/client/types.ts'
import { CLOSE } from '../../src/protocol/close-codes.ts'
import { fakeClock } from '../helpers/fake-clock.ts'
import { waitFor } from '../helpers/wait.ts'

// I9: walcast ends an SSE stream it sheds (a replay refused by the read gate, a slow
// consumer) with a last `close` message carrying the WebSocket close code of the cause
// (src/feed/sse-route.ts). The SDK must treat it as that close: overload backs off and
// grows, an expired token refreshes at once. Before, every end was an ordinary reconnect.

const HEAD = '00000000000010ff-00000000'

/** A real HTTP server whose SSE streams open, then end with `close` of `code()` (none: a bare end). */
async function endingServer(t: Test, code: () => number | undefined): Promise<{ url: string; opens: string[] }> {
  const opens: string[] = []
  const server = http.createServer((req, res) => {
    opens.push(req.headers.authorization ?? '')
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.write(`retry: 1000\n\nevent: subscribed\ndata: ${JSON.stringify({ op: 'subscribed', topic: 'user:1', head: HEAD })}\n\n`)
    const c = code()
    setTimeout(() => res.end(c === undefined ? '' : `event: close\ndata: ${JSON.stringify({ op: 'close', code: c, reason: 'why' })}\n\n`), 20)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, opens }
}

t.test('streamCloseCode reads the code of a close message and nothing else', async (t) => {
  t.equal(streamCloseCode('{"op":"close","code":4008,"reason":"slow consumer"}'), 4008, 'the code')
  t.equal(streamCloseCode('{"op":"close"}'), undefined, 'no code')
  t.equal(streamCloseCode('{"op":"close","code":"4008"}'), undefined, 'a code that is not a number')
  t.equal(streamCloseCode('{"op":"event","code":4008}'), undefined, 'another op')
  t.equal(streamCloseCode('null'), undefined, 'null')
  t.equal(streamCloseCode('not json'), undefined, 'bad JSON is ignored, never thrown')
})

t.test('I9: SSE streams ended with `close` 4008 or 1013 back off like the WebSocket closes (growing, fully jittered, not failures); a bare end stays one reconnect step', async (t) => {
  const codes = [CLOSE.slowConsumer, CLOSE.tryAgainLater, CLOSE.slowConsumer, undefined]
  let n = 0
  const server = await endingServer(t, () => codes[Math.min(n++, codes.length - 1)])
  const clock = fakeClock()
  const seen: StatusInfo[] = []
  const client = createClient({ url: server.url, token: 't', transports: ['sse'], clock, random: () => 1, backoff: { ...DEFAULT_BACKOFF, maxAttempts: 2 } })
  t.teardown(() => client.close())
  client.onStatus((s) => seen.push(s))
  client.subscribe('user:1', () => {})
  const waits: number[] = []
  for (let i = 1; i <= 4; i++) {
    const info = await waitFor(() => seen.filter((s) => s.status === 'reconnecting')[i - 1], 10_000, `end ${i}`)
    t.equal(info.failures, 0, `end ${i}: not a failure`)
    waits.push(info.delayMs!)
    clock.advance(info.delayMs!)
  }
  t.same(waits.slice(0, 3), [1, 2, 3].map((k) => overloadDelay(DEFAULT_BACKOFF, k, 1)), 'three overload closes in a row: the overload steps')
  t.equal(waits[3], backoffDelay(DEFAULT_BACKOFF, 1, 1), 'an end with no reason: one ordinary reconnect step')
  t.notOk(seen.some((s) => s.status === 'failed'), 'never failed')
})

t.test('an SSE stream ended with `close` 4001 (token expired) reconnects at once with a fresh token', async (t) => {
  let n = 0
  const server = await endingServer(t, () => (n++ === 0 ? CLOSE.tokenExpired : undefined))
  const clock = fakeClock()
  const seen: StatusInfo[] = []
  let issued = 0
  const client = createClient({ url: server.url, getToken: () => `t${++issued}`, transports: ['sse'], clock, random: () => 1 })
  t.teardown(() => client.close())
  client.onStatus((s) => seen.push(s))
  client.subscribe('user:1', () => {})
  const info = await waitFor(() => seen.find((s) => s.status === 'reconnecting'), 10_000, 'the end at expiry')
  t.equal(info.delayMs, 0, 'at once')
  await waitFor(() => server.opens.length >= 2 ? true : undefined, 10_000, 'the stream reopened')
  t.equal(server.opens[0], 'Bearer t1', 'the first token')
  t.equal(server.opens[1], 'Bearer t2', 'with a fresh token')
})
