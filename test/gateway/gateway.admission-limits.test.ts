import t from 'tap'
import WebSocket from 'ws'
import type { TokenVerifier } from '../../src/auth/token-verifier.ts'
import type { GatewayConfig } from '../../src/config.ts'
import { createGateway } from '../../src/gateway/gateway.ts'
import { startHttpServer } from '../../src/http/server.ts'
import type { SubscriptionCore } from '../../src/subscription/core.ts'
import { silentLogger } from '../helpers/log.ts'
import { waitFor } from '../helpers/wait.ts'
import { refusedUpgrade, wsUrl } from '../helpers/ws-client.ts'

const config: GatewayConfig = {
  maxBackpressure: 1 << 20, maxPayload: 16_384, maxSubscriptions: 100, maxConnectionsPerUser: 20,
  rate: 50, burst: 200, rateTolerance: 50, idleTimeoutSec: 60, replayPage: 500,
}

// Sockets that never authenticate must not pile up: the cap is what keeps a flood of
// upgrades with tokens that take long to verify (a slow JWKS) bounded.
t.test('at most maxWaiting sockets wait for their token; more are refused with 429 until one goes', async (t) => {
  // A verifier that never answers: every socket stays waiting.
  const never: TokenVerifier = { verify: () => new Promise(() => {}) }
  // Only the admission is exercised here: nothing reaches the subscription core.
  const subscriptions = { addChannel: () => () => {} } as unknown as SubscriptionCore
  const gateway = createGateway({ config, subscriptions, verifier: never, log: silentLogger(), admission: { deadlineMs: 60_000, maxWaiting: 2 } })
  const http = await startHttpServer({ host: '127.0.0.1', port: 0 }, [], silentLogger(), (app) => gateway.mount(app))
  t.teardown(() => http.close())

  const open = (): Promise<{ ws: WebSocket; closed: Promise<number> }> => new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(http.port, 'a.b.c'))
    const closed = new Promise<number>((done) => ws.on('close', (code) => done(code)))
    ws.on('error', reject)
    ws.on('open', () => resolve({ ws, closed }))
  })
  const first = await open()
  const second = await open()
  const third = await refusedUpgrade(http.port, 'a.b.c')
  t.equal(third.status, 429, 'the third waits for nothing: 429')
  t.equal(JSON.parse(third.body).error.code, 'too_many_connections')
  t.equal(gateway.stats().connections, 0, 'none of them is a connection')

  first.ws.close()
  t.equal(await first.closed, 1005, 'one goes')
  const again = await waitFor(() => open().catch(() => undefined), 10_000, 'a free waiting slot')
  t.ok(again, 'its slot is free again')

  gateway.close()
  t.same(await Promise.all([second.closed, again.closed]), [1001, 1001], 'a shutdown closes the waiting sockets with 1001')
  t.equal((await refusedUpgrade(http.port, 'a.b.c')).status, 503, 'and refuses new ones')
})
