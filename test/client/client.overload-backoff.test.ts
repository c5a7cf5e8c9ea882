import t from 'tap'
import WebSocket from 'ws'
import { overloadDelay, DEFAULT_BACKOFF } from '../../src/client/backoff.ts'
import type { StatusInfo, WebSocketConstructor } from '../../src/client/types.ts'
import { CLOSE } from '../../src/protocol/close-codes.ts'
import { createTestDatabase } from '../helpers/db.ts'
import { startFeedService } from '../helpers/feed.ts'
import { connectClient } from '../helpers/sdk.ts'
import { collectPublished } from '../helpers/service.ts'
import { adminToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'

t.test('I9: an SDK client closed with 4008 waits its overload backoff before reconnecting, then gets every event once and in order', async (t) => {
  const tdb = await createTestDatabase(t)
  // Stall limit: half the idle timeout (15 s), counted from the pacing; uWS would drop the silent
  // peer at the idle timeout counted from its subscribe, its last frame.
  const { service, url } = await startFeedService(t, tdb, { WALCAST_MAX_BACKPRESSURE: '65536', WALCAST_WS_IDLE_TIMEOUT: '30' })
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'U')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (1, 'E', 1, 'EUR')`)
  // Every socket the SDK opens, and when: the test can stop one reading, as a frozen tab would.
  const sockets: { ws: WebSocket; at: number }[] = []
  const closeCodes: number[] = []
  class ObservedWebSocket extends WebSocket {
    constructor(address: string) {
      super(address)
      sockets.push({ ws: this, at: performance.now() })
      this.on('close', (code) => closeCodes.push(code))
    }
  }
  const statuses: (StatusInfo & { at: number })[] = []
  const { client, events } = connectClient(t, {
    url, token: await adminToken(), transports: ['websocket'], WebSocket: ObservedWebSocket as unknown as WebSocketConstructor,
    // Full jitter at its top: the first overload step, 1 s.
    random: () => 1,
  }, ['admin:disputes'])
  client.onStatus((s) => statuses.push({ ...s, at: performance.now() }))
  await waitFor(() => service.gateway.stats().subscriptions === 1, 10_000, 'live')
  const published = collectPublished(service)

  sockets[0]!.ws.pause()
  const total = 6000
  await tdb.query(`INSERT INTO disputes (escrow_id, filed_by, reason) SELECT 1, 1, repeat('z', 2000) || g FROM generate_series(1, ${total}) AS g`)
  await waitFor(() => service.gateway.stats().slowConsumerCloses === 1, 45_000, 'the stalled client to be closed')
  t.ok(service.gateway.stats().pacedSubscriptions >= 1, 'it was paced before it was closed')
  sockets[0]!.ws.resume()
  const reconnecting = await waitFor(() => statuses.find((s) => s.status === 'reconnecting'), 10_000, 'reconnecting')
  t.equal(reconnecting.delayMs, overloadDelay(DEFAULT_BACKOFF, 1, 1), 'the overload backoff, not at once')
  t.equal(reconnecting.failures, 0, 'not a failure')
  await waitFor(() => sockets.length === 2, 10_000, 'a new socket')
  t.ok(sockets[1]!.at - reconnecting.at >= 950, `it waited ${Math.round(sockets[1]!.at - reconnecting.at)} ms before dialing again`)

  await waitFor(() => events.length >= total, 30_000, 'every event')
  const ids = published.filter((e) => e.topics.includes('admin:disputes')).map((e) => e.id)
  t.same(events.map((e) => e.id), ids, 'every event once, in order, across the 4008')
  t.equal(client.status, 'open')
  t.same(closeCodes, [CLOSE.slowConsumer], 'the one close it saw was 4008')
})
