import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { seedHistory } from '../helpers/history-seed.ts'
import { startTestService } from '../helpers/service.ts'
import { adminToken, authEnv } from '../helpers/tokens.ts'
import { sleep, waitFor } from '../helpers/wait.ts'
import { connectWs, waitForEvents } from '../helpers/ws-client.ts'

const TOPIC = 'escrow:7'
const MiB = 1_048_576

// uWS writes a frame of 16 KiB or more onto an empty send buffer with its own writev, which
// re-arms writable polling but not the loop's "a write failed" flag; written from inside
// uWS's writable callback (the drain handler, or a promise it resolves), the callback's
// end then turns writable polling off, and what the kernel did not take stays in uWS's
// buffer with no drain ever again. Both events are larger than the kernel's socket buffers
// on loopback (about 4 MB), so each is written in part.
t.test('I9: a replay the drain handler wakes keeps being written: a big frame sent onto an empty buffer after a drain reaches the client, and the next drain wakes the replay again', async (t) => {
  const tdb = await createTestDatabase(t)
  const first = await seedHistory(tdb, TOPIC, 1, { padding: 6 * MiB, firstLsn: 0x1000 })
  const second = await seedHistory(tdb, TOPIC, 1, { padding: 6 * MiB, firstLsn: 0x1001 })
  const after = await seedHistory(tdb, TOPIC, 5, { firstLsn: 0x1002 })
  // The stall rule (60 s windows) and the liveness pings (every 30 s, which would write
  // the buffer out by the way) stay out of the test's 20 s.
  const service = await startTestService(t, tdb, authEnv({ WALCAST_WS_IDLE_TIMEOUT: '120' }))
  const client = await connectWs(t, service.http.port, await adminToken())
  // Paused, the client makes the first event stop the replay above the drain level; read
  // freely then, uWS's buffer empties in one writable callback, whose drain wakes the
  // replay onto an empty buffer with the second event next.
  client.pause()
  client.subscribe(TOPIC, { since: '0000000000000000-00000000', ref: 'drain' })
  const socket = await waitFor(() => service.gateway.sockets().find((s) => s.drainWaiters === 1), 20_000, 'the replay to wait for the client')
  t.ok(socket.buffered > MiB / 4, `the replay waits above the drain level (${socket.buffered} bytes buffered)`)
  // Long enough for the kernel's buffers to fill as well.
  await sleep(200)
  client.resume()
  const expected = [...first, ...second, ...after]
  await waitForEvents(client, TOPIC, expected.length, 20_000, service.gateway)
  t.equal(client.closeInfo(), undefined, 'never closed')
  t.same(client.events(TOPIC).map((e) => e.id), expected, 'every event once, in order')
  t.same(client.events(TOPIC).map((e) => ((e.data as { padding?: string }).padding ?? '').length), [6 * MiB, 6 * MiB, 0, 0, 0, 0, 0], 'the big ones whole')
})
