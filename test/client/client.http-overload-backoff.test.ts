import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { createClient } from '../../src/client/index.ts'
import { overloadDelay, DEFAULT_BACKOFF } from '../../src/client/backoff.ts'
import type { StatusInfo, TransportName } from '../../src/client/types.ts'
import { fakeClock } from '../helpers/fake-clock.ts'
import { waitFor } from '../helpers/wait.ts'

// I9: a server shedding load tells an SSE or polling client 503 `overloaded` (history reads
// queued past WALCAST_DB_REPLAY_WAIT, src/subscription/read-gate.ts). The SDK must come back
// as it does after a WebSocket's 1013: after a growing, fully jittered backoff that is not a
// failure (a busy server is never given up on), and a healthy spell starts it over. Before,
// the 503 counted as a failed attempt (the ladder's next transport, then `failed` after
// maxAttempts) on a fixed schedule shared by the whole fleet.

const HEAD = '00000000000010ff-00000000'
const HEALTHY_MS = 5000

/** A real HTTP server answering /v1/events and /v1/sse by a script: 503 `overloaded` while `busy()`. */
async function busyServer(t: Test, busy: () => boolean): Promise<{ url: string; requests: string[]; endStreams(): void }> {
  const requests: string[] = []
  const streams = new Set<http.ServerResponse>()
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '')
    if (busy()) {
      res.writeHead(503, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { code: 'overloaded', message: 'server busy; poll again later' } }))
    } else if (req.url?.startsWith('/v1/sse')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      streams.add(res)
      res.write(`retry: 1000\n\nevent: subscribed\ndata: ${JSON.stringify({ op: 'subscribed', topic: 'user:1', head: HEAD })}\n\n`)
    } else {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ events: [], next: HEAD, reset: false }))
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    endStreams() {
      for (const res of streams) res.end()
      streams.clear()
    },
  }
}

for (const transport of ['polling', 'sse'] as TransportName[]) {
  t.test(`I9: ${transport} answered 503 overloaded backs off like 1013: growing, fully jittered, never failed; a healthy spell starts over`, async (t) => {
    let busy = true
    const server = await busyServer(t, () => busy)
    const clock = fakeClock()
    const seen: StatusInfo[] = []
    const policy = { ...DEFAULT_BACKOFF, maxAttempts: 3, healthyMs: HEALTHY_MS }
    const client = createClient({ url: server.url, token: 't', transports: [transport], clock, random: () => 1, backoff: policy, pollIntervalMs: 1000 })
    t.teardown(() => client.close())
    client.onStatus((s) => seen.push(s))
    client.subscribe('user:1', () => {})

    // Five refusals in a row, past maxAttempts: each waits the next overload step.
    const waits: number[] = []
    for (let n = 1; n <= 5; n++) {
      const info = await waitFor(() => seen.filter((s) => s.status === 'reconnecting')[n - 1], 10_000, `refusal ${n}`)
      waits.push(info.delayMs!)
      t.equal(info.failures, 0, `refusal ${n}: not a failure`)
      t.equal(clock.pending().at(-1), info.delayMs, `refusal ${n}: the next request is ${info.delayMs} ms away`)
      if (n === 5) busy = false
      clock.advance(info.delayMs!)
    }
    t.same(waits, [1, 2, 3, 4, 5].map((n) => overloadDelay(policy, n, 1)), 'the overload steps, 1 s doubling')
    t.notOk(seen.some((s) => s.status === 'failed'), 'a busy server is never given up on')
    await waitFor(() => client.status === 'open' ? true : undefined, 10_000, 'open once the server answers')

    // The server has a poll before the client has read its answer and set the timer for
    // the next: time moved before that would be lost, and the next poll never asked.
    const nextPollSet = (): Promise<true> => waitFor(() => clock.pending().includes(1000) ? true : undefined, 10_000, 'the next poll scheduled')
    // Open for the healthy period (polling keeps asking, and is answered), then shed again.
    for (let waited = 0; waited < HEALTHY_MS; waited += 1000) {
      const before = server.requests.length
      if (transport === 'polling') await nextPollSet()
      clock.advance(1000)
      if (transport === 'polling') await waitFor(() => server.requests.length > before ? true : undefined, 10_000, 'a poll')
    }
    busy = true
    const before = seen.length
    if (transport === 'sse') {
      // The stream ends (an ordinary reconnect, one jittered step); reopening it is refused.
      server.endStreams()
      const reconnect = await waitFor(() => seen.slice(before).find((s) => s.status === 'reconnecting'), 10_000, 'the stream ended')
      clock.advance(reconnect.delayMs!)
    } else {
      await nextPollSet()
      clock.advance(1000)
    }
    const again = await waitFor(() => seen.slice(before).filter((s) => s.status === 'reconnecting')[transport === 'sse' ? 1 : 0], 10_000, 'shed again')
    t.equal(again.delayMs, overloadDelay(policy, 1, 1), 'after a healthy spell the backoff starts over at its first step')
    t.equal(again.failures, 0)
  })
}

t.test('503 shutting_down is still an ordinary reconnect, and a 503 with no walcast body (a proxy) is overload', async (t) => {
  const { afterClose } = await import('../../src/client/close-policy.ts')
  t.equal(afterClose({ opened: true, status: 503, error: 'shutting_down' }), 'reconnect', 'another instance can take it now')
  t.equal(afterClose({ opened: false, status: 503, error: 'overloaded' }), 'overload')
  t.equal(afterClose({ opened: true, status: 503, error: 'auth_unavailable' }), 'overload', 'tokens unverifiable: 1013 on a WebSocket')
  t.equal(afterClose({ opened: true, status: 503 }), 'overload')
})

t.test('I9: a proxy\'s 503 page (no walcast body) is read as overload too, and a 500 stays a failed attempt', async (t) => {
  let status = 503
  const server = http.createServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'text/html' })
    res.end('<html>Service Unavailable</html>')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  const clock = fakeClock()
  const seen: StatusInfo[] = []
  const client = createClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: 't', transports: ['polling'], clock, random: () => 1 })
  t.teardown(() => client.close())
  client.onStatus((s) => seen.push(s))
  client.subscribe('user:1', () => {})
  const first = await waitFor(() => seen.find((s) => s.status === 'reconnecting'), 10_000, 'the 503')
  t.match(first, { delayMs: overloadDelay(DEFAULT_BACKOFF, 1, 1), failures: 0 }, 'overload, not a failure')
  status = 500
  clock.advance(first.delayMs!)
  const second = await waitFor(() => seen.filter((s) => s.status === 'reconnecting')[1], 10_000, 'the 500')
  t.equal(second.failures, 1, 'a 500 is a failed attempt, as before')
})
