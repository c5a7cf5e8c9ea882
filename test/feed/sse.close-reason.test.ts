import net from 'node:net'
import t from 'tap'
import { CLOSE } from '../../src/protocol/close-codes.ts'
import { createTestDatabase } from '../helpers/db.ts'
import { openSse, startFeedService, type SseReader } from '../helpers/feed.ts'
import { lockHistory, seedHistory } from '../helpers/history-seed.ts'
import { capturingLogger } from '../helpers/log.ts'
import { adminToken, signToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'

// A stream the server ends for a reason says which before it ends, with the WebSocket close
// code of the same cause (docs/protocol.md#sse): an end alone reads as a lost connection,
// so a client shed for overload came straight back instead of backing off.

const TOPIC = 'escrow:1'

function closeOf(stream: SseReader): { op: string; code: number; reason: string } | undefined {
  const last = stream.messages.at(-1)
  return last?.event === 'close' ? JSON.parse(last.data) as { op: string; code: number; reason: string } : undefined
}

t.test('I9, I18: a replay shed by the read gate after the stream opened ends with a `close` message of code 1013 (overload), and the stream resumes completely later', async (t) => {
  const tdb = await createTestDatabase(t)
  const seeded = await seedHistory(tdb, TOPIC, 200)
  const { service, url } = await startFeedService(t, tdb, { WALCAST_DB_POOL: '2', WALCAST_DB_REPLAY_WAIT: '1s' })
  const token = await adminToken()
  const release = await lockHistory(tdb)
  let released = false
  t.teardown(async () => { if (!released) await release() })
  const streams = await Promise.all(Array.from({ length: 8 }, () => openSse(`${url}/v1/sse?topic=${TOPIC}`, { authorization: `Bearer ${token}`, 'last-event-id': seeded[0]! })))
  t.teardown(() => { for (const stream of streams) stream.close() })
  t.same(streams.map((s) => s.status), streams.map(() => 200), 'every stream opened before its replay was read')
  await waitFor(() => streams.filter((s) => s.ended()).length >= 7, 15_000, 'the queued replays to be shed')
  const shed = streams.filter((s) => s.ended())
  for (const stream of shed) t.match(closeOf(stream), { op: 'close', code: CLOSE.tryAgainLater, reason: /busy/ }, 'the last message says overload')
  await release()
  released = true
  const again = await openSse(`${url}/v1/sse?topic=${TOPIC}`, { authorization: `Bearer ${token}`, 'last-event-id': seeded[0]! })
  t.teardown(() => again.close())
  const ids = await waitFor(() => {
    const got = again.messages.filter((m) => m.id !== undefined).map((m) => m.id!)
    return got.length >= seeded.length - 1 ? got : undefined
  }, 20_000, 'the resumed stream to catch up')
  t.same(ids, seeded.slice(1), 'every event after the resume point once, in order')
  t.ok(service.subscriptions.readStats().shed >= 7, 'the shed reads are counted')
})

t.test('I9: a slow consumer\'s stream ends with `close` 4008 after what was queued; an expired token\'s with 4001; shutdown\'s with 1001', async (t) => {
  const tdb = await createTestDatabase(t)
  await seedHistory(tdb, 'user:1', 2000, { padding: 5000 })
  const { log, lines } = capturingLogger('info')
  const { service, url } = await startFeedService(t, tdb, { WALCAST_MAX_BACKPRESSURE: '65536', WALCAST_WS_IDLE_TIMEOUT: '8' }, log)

  // A reader that stops: its replay fills the kernel's buffers, then walcast's.
  const socket = net.connect(service.http.port, '127.0.0.1')
  t.teardown(() => { socket.destroy() })
  socket.pause()
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  socket.write(`GET /v1/sse?topic=user:1&lastEventId=0000000000000000-00000000 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${await signToken('1')}\r\n\r\n`)
  await waitFor(() => lines().some((line) => line.includes('sse stream ended: slow consumer')), 30_000, 'the slow stream to be ended')
  let raw = ''
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => { raw += chunk })
  const ended = new Promise<void>((resolve) => socket.once('end', () => resolve()))
  socket.resume()
  await ended
  t.match(raw, /event: close\r?\ndata: \{"op":"close","code":4008,"reason":"slow consumer"\}\n\n(\r\n)?0\r\n\r\n$/, 'the last message, after everything queued, says slow consumer')

  const expiring = await openSse(`${url}/v1/sse?topic=user:1`, { authorization: `Bearer ${await signToken('1', { expiresIn: 2 })}` })
  await waitFor(() => expiring.ended(), 10_000, 'the end at expiry')
  t.match(closeOf(expiring), { code: CLOSE.tokenExpired, reason: 'token expired' }, 'the end at expiry says refresh (4001)')

  const stopping = await openSse(`${url}/v1/sse?topic=user:1`, { authorization: `Bearer ${await signToken('1')}` })
  await waitFor(() => service.feed.sseStreams() === 1 ? true : undefined, 10_000, 'the stream to open')
  service.feed.close()
  await waitFor(() => stopping.ended(), 10_000, 'the end at shutdown')
  t.match(closeOf(stopping), { code: CLOSE.goingAway, reason: 'server shutting down' }, 'the end at shutdown says going away (1001)')
})
