import t from 'tap'
import WS from 'ws'
import { createClient } from '../../src/client/index.ts'
import type { StatusInfo, WebSocketConstructor } from '../../src/client/types.ts'
import { createTestDatabase } from '../helpers/db.ts'
import { startTestService } from '../helpers/service.ts'
import { authEnv, signToken } from '../helpers/tokens.ts'
import { sleep, waitFor } from '../helpers/wait.ts'

const WebSocket = WS as unknown as WebSocketConstructor

// walcast verifies the token once the socket is open and closes it with 4401 when it is
// refused: the SDK must treat that as the old HTTP 401 (a failed attempt, a fresh token
// next time), not as a close after which it comes back at once.
t.test('a WebSocket closed with 4401: a failed attempt, then a fresh token', async (t) => {
  const tdb = await createTestDatabase(t)
  const service = await startTestService(t, tdb, authEnv())
  const url = `http://127.0.0.1:${service.http.port}`

  t.test('an expired token from getToken: the next attempt asks for a fresh one and opens', async (t) => {
    const tokens = [await signToken('1', { expiresIn: -60 }), await signToken('1')]
    let issued = 0
    const seen: StatusInfo[] = []
    const client = createClient({ url, WebSocket, transports: ['websocket'], getToken: () => tokens[Math.min(issued++, 1)]!, backoff: { initialMs: 100 } })
    t.teardown(() => client.close())
    client.onStatus((s) => seen.push(s))
    client.subscribe('user:1', () => {})
    await waitFor(() => seen.some((s) => s.status === 'reconnecting' && s.failures === 1), 10_000, 'the 4401 counted as a failed attempt')
    await waitFor(() => client.status === 'open' && seen.filter((s) => s.status === 'open').length === 2, 10_000, 'open again with a fresh token')
    const asked = issued
    t.ok(asked >= 2 && asked <= 3, `getToken asked again (${asked} times in all; the refresh timer of the refused token may ask too)`)
    await sleep(1000)
    t.equal(client.status, 'open', 'and it stays open: the fresh token was admitted')
    t.equal(issued, asked, 'no more tokens asked for: no loop')
    t.equal(service.gateway.stats().connections, 1, 'admitted once')
  })

  t.test('a wrongly signed token that has not expired: the next attempt still asks for a fresh one', async (t) => {
    const tokens = [await signToken('2', { secret: 'some-other-secret-some-other-secret' }), await signToken('2')]
    let issued = 0
    const client = createClient({ url, WebSocket, transports: ['websocket'], getToken: () => tokens[Math.min(issued++, 1)]!, backoff: { initialMs: 100, maxAttempts: 3 } })
    t.teardown(() => client.close())
    client.subscribe('user:2', () => {})
    await waitFor(() => issued === 2 && client.status === 'open', 10_000, 'open with the second token')
    await sleep(500)
    t.equal(client.status, 'open', 'admitted')
    t.equal(issued, 2, 'one fresh token after the 4401')
  })

  t.test('a token that is never valid: backoff after each 4401 and `failed` in the end, no loop', async (t) => {
    const bad = await signToken('1', { secret: 'some-other-secret-some-other-secret' })
    let issued = 0
    const seen: StatusInfo[] = []
    const started = Date.now()
    const client = createClient({ url, WebSocket, transports: ['websocket'], getToken: () => { issued++; return bad }, backoff: { initialMs: 100, maxAttempts: 3 } })
    t.teardown(() => client.close())
    client.onStatus((s) => seen.push(s))
    client.subscribe('user:1', () => {})
    await waitFor(() => client.status === 'failed', 15_000, 'failed')
    t.same(seen.filter((s) => s.status === 'reconnecting').map((s) => s.failures), [1, 2], 'each 4401 is one more failure')
    t.equal(issued, 3, 'one token per attempt')
    t.ok(Date.now() - started >= 100, 'with backoff between attempts')
    t.equal(service.gateway.stats().connections, 0, 'the server admitted none of them')
  })
})
