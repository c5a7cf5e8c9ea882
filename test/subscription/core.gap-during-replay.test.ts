import { escrowCatalog } from '../../src/catalogs/escrow/index.ts'
import t from 'tap'
import { createAuthorizer } from '../../src/auth/authorizer.ts'
import { gapMark } from '../../src/event-id.ts'
import { createHistoryStore } from '../../src/history/store.ts'
import { createHub } from '../../src/hub/hub.ts'
import { createSubscriptionCore, type SubscriberSink } from '../../src/subscription/core.ts'
import { createTestDatabase } from '../helpers/db.ts'
import { seedHistory } from '../helpers/history-seed.ts'
import { silentLogger } from '../helpers/log.ts'

// The core on a real history with a sink whose client reads only when the test lets it:
// a gap signalled while a replay waits on the client, and a client that never reads.

interface Paced {
  sink: SubscriberSink
  calls: string[]
  sent: string[]
  /** Lets the client drain once. */
  read(): void
  waiting(): boolean
}

function pacedSink(): Paced {
  const calls: string[] = []
  const sent: string[] = []
  let wake: (() => void) | undefined
  return {
    calls,
    sent,
    read() {
      const w = wake
      wake = undefined
      w?.()
    },
    waiting: () => wake !== undefined,
    sink: {
      // One page at a time: every send fills the buffer, so the replay waits for the client.
      send(events) {
        for (const e of events) sent.push(e.id)
        return events.length
      },
      fits: () => false,
      drained: () => new Promise<void>((resolve) => { wake = resolve }),
      closed: () => false,
      live: (head) => { calls.push(`live ${head}`) },
      reset: (topic, reason, head) => { calls.push(`reset ${topic} ${reason} ${head}`) },
      revoked: (topic) => { calls.push(`revoked ${topic}`) },
      failed: () => { calls.push('failed') },
      stalled: () => { calls.push('stalled') },
    },
  }
}

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

t.test('I6: a gap signalled while a replay waits on its client ends the replay with reset at the gap\'s mark, then live', async (t) => {
  const tdb = await createTestDatabase(t)
  const ids = await seedHistory(tdb, 'user:1', 50)
  const history = createHistoryStore(tdb.database.db)
  const hub = createHub({ windowSize: 10 })
  const authorizer = createAuthorizer(tdb.database.db, hub, escrowCatalog)
  const core = createSubscriptionCore({ hub, history, authorizer, log: silentLogger(), pageSize: 10, drainLevel: 1, stallMs: 30_000 })
  t.teardown(() => { core.close(); authorizer.close() })
  hub.goLive(ids[ids.length - 1]!, undefined)

  const client = pacedSink()
  const sub = core.register({ userId: '1', admin: false, exp: Date.now() / 1000 + 3600 }, ['user:1'], client.sink)
  t.equal(await core.authorize(sub), undefined)
  const started = core.start(sub, ids[0]!)
  await until(() => client.waiting())
  client.read()
  await until(() => client.sent.length >= 10 && client.waiting())
  t.same(client.sent, ids.slice(1, 11), 'the first page, in order')

  // A TRUNCATE (say) is recorded and signalled while the replay waits on the client.
  await history.recordGap(0x2000n, 0x3000n, 'truncate')
  hub.gap('truncate', 0x3000n)
  client.read()
  await started
  t.same(client.calls, [`reset user:1 stream_gap ${gapMark(0x3000n)}`, `live ${gapMark(0x3000n)}`], 'reset at the mark, then live: no page after the gap was sent as if nothing happened')
  t.equal(client.sent.length, 10, 'nothing more was replayed')
})

t.test('I9: a client that takes nothing while its replay waits is closed as a slow consumer', async (t) => {
  const tdb = await createTestDatabase(t)
  const ids = await seedHistory(tdb, 'user:1', 30)
  const history = createHistoryStore(tdb.database.db)
  const hub = createHub({ windowSize: 10 })
  const authorizer = createAuthorizer(tdb.database.db, hub, escrowCatalog)
  const core = createSubscriptionCore({ hub, history, authorizer, log: silentLogger(), pageSize: 10, drainLevel: 1, stallMs: 300 })
  t.teardown(() => { core.close(); authorizer.close() })
  hub.goLive(ids[ids.length - 1]!, undefined)
  const client = pacedSink()
  const sub = core.register({ userId: '1', admin: false, exp: Date.now() / 1000 + 3600 }, ['user:1'], client.sink)
  await core.start(sub, ids[0]!)
  t.same(client.calls, ['stalled'], 'the stall limit passed with nothing taken: closed, never skipped')
  t.same(client.sent, [], 'nothing was sent past the client')
})
