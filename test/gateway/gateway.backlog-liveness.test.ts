import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { startTestService } from '../helpers/service.ts'
import { adminToken, authEnv } from '../helpers/tokens.ts'
import { sleep } from '../helpers/wait.ts'
import { connectWs } from '../helpers/ws-client.ts'

t.test('a peer whose pongs come back late (behind a backlog it is still reading) stays connected; one that answers nothing is dropped at the idle timeout', async (t) => {
  const tdb = await createTestDatabase(t)
  // Idle timeout 24 s. uWS alone pings at 16 s and drops at 24 s: a pong 12 s late (what
  // a client that reads steadily but is 12 s of frames behind sends) came too late.
  const idle = 24
  const service = await startTestService(t, tdb, authEnv({ WALCAST_WS_IDLE_TIMEOUT: String(idle) }))
  const port = service.http.port
  const token = await adminToken()
  const late = await connectWs(t, port, token, { autoPong: false })
  const silent = await connectWs(t, port, token, { autoPong: false })
  const opened = Date.now()
  let pings = 0
  late.ws.on('ping', () => {
    pings++
    setTimeout(() => { if (late.closeInfo() === undefined) late.ws.pong() }, 12_000)
  })
  t.equal((await late.subscribeAndWait('admin:disputes')).op, 'subscribed')
  t.equal((await silent.subscribeAndWait('admin:disputes')).op, 'subscribed')

  const dropped = await silent.closed
  const after = (Date.now() - opened) / 1000
  t.equal(dropped.code, 1006, 'the peer that answers nothing is dropped')
  t.ok(after >= idle - 1 && after <= idle * 1.5 + 4, `at about the idle timeout (${after.toFixed(1)} s)`)

  await sleep(Math.max(0, opened + 40_000 - Date.now()))
  t.equal(late.closeInfo(), undefined, 'the late answerer is still connected after 40 s')
  t.ok(pings >= 2, `it was pinged again while its pongs were on their way (${pings} pings)`)
})
