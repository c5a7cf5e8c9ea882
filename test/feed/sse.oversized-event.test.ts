import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { startFeedService } from '../helpers/feed.ts'
import { seedHistory } from '../helpers/history-seed.ts'
import { signToken } from '../helpers/tokens.ts'
import { sleep } from '../helpers/wait.ts'

const MiB = 1_048_576

t.test('I9: an SSE stream carries an event larger than WALCAST_MAX_BACKPRESSURE to a reader slower than the server, instead of ending at it each time', async (t) => {
  const tdb = await createTestDatabase(t)
  // Ordinary events first, to fill the socket's buffers; then the 1.5 MiB one; then more.
  const before = await seedHistory(tdb, 'user:1', 1500, { padding: 4000, firstLsn: 0x1000 })
  const big = await seedHistory(tdb, 'user:1', 1, { padding: 1.5 * MiB, firstLsn: 0x1000 + 1500 })
  const after = await seedHistory(tdb, 'user:1', 20, { firstLsn: 0x1000 + 1501 })
  const expected = [...before, ...big, ...after]
  const { service, url } = await startFeedService(t, tdb)
  t.equal(service.config.gateway.maxBackpressure, MiB, 'the default limit')
  const controller = new AbortController()
  t.teardown(() => controller.abort())
  const response = await fetch(`${url}/v1/sse?topic=user:1&lastEventId=0000000000000000-00000000`, {
    headers: { authorization: `Bearer ${await signToken('1')}` }, signal: controller.signal,
  })
  const ids: string[] = []
  let bigData = 0
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
  let text = ''
  const deadline = Date.now() + 90_000
  let ended = false
  while (ids.length < expected.length && Date.now() < deadline) {
    // Slower than the server writes: the socket stays full.
    await sleep(5)
    const { done, value } = await reader.read()
    if (done) {
      ended = true
      break
    }
    text += value
    let cut: number
    while ((cut = text.indexOf('\n\n')) !== -1) {
      const block = text.slice(0, cut)
      const id = /^id: (.+)$/m.exec(block)?.[1]
      if (id !== undefined) ids.push(id)
      if (id === big[0]) bigData = block.length
      text = text.slice(cut + 2)
    }
  }
  t.notOk(ended, 'the stream was not ended')
  t.same(ids, expected, 'every event once, in order, the big one among them')
  t.ok(bigData > 1.5 * MiB, 'the big event whole')
})
