import t from 'tap'
import { watchSilence } from '../../src/replication/liveness.ts'
import { sleep } from '../helpers/wait.ts'

// The watch's timer is unref'd (it must not keep walcast alive); this keeps the test alive.
const hold = setInterval(() => {}, 1000)
t.teardown(() => clearInterval(hold))

t.test('silence asks for a keepalive halfway and expires at the timeout', async (t) => {
  const events: Array<[string, number]> = []
  const start = performance.now()
  // The watch ticks every timeout / 10: a loop held past half the timeout between two ticks
  // (a loaded CI host) would see no halfway point. 1 s keeps that out of reach.
  await new Promise<void>((resolve) => {
    watchSilence({
      timeoutMs: 1000,
      busy: () => false,
      ping: () => events.push(['ping', performance.now() - start]),
      expire: () => { events.push(['expire', performance.now() - start]); resolve() },
    })
  })
  t.same(events.map(([what]) => what), ['ping', 'expire'], 'one ping, then expiry')
  t.ok(events[0]![1] >= 500, 'the ping after half the timeout')
  t.ok(events[1]![1] >= 1000, 'expiry not before the timeout')
})

t.test('a server that answers the ping keeps the connection alive', async (t) => {
  let pings = 0
  let expired = false
  // Answered 10 ms after each ask; it would expire only if the loop were held for most of the timeout.
  const watch = watchSilence({
    timeoutMs: 600,
    busy: () => false,
    ping: () => { pings++; setTimeout(() => watch.heard(), 10) },
    expire: () => { expired = true },
  })
  await sleep(2000)
  watch.stop()
  t.ok(pings >= 2, `asked ${pings} times`)
  t.notOk(expired, 'never expired')
})

t.test('time walcast holds the stream paused does not count as silence', async (t) => {
  let busy = true
  let expiredAt = 0
  const start = performance.now()
  setTimeout(() => { busy = false }, 400)
  await new Promise<void>((resolve) => {
    watchSilence({ timeoutMs: 200, busy: () => busy, ping: () => {}, expire: () => { expiredAt = performance.now() - start; resolve() } })
  })
  // Busy is sampled every tick (timeout / 10): silence counts from the last busy sample.
  t.ok(expiredAt >= 400 + 200 - 20, `expired ${Math.round(expiredAt)} ms in: 400 ms busy, then the 200 ms timeout`)
})
