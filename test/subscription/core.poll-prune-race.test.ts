import { escrowCatalog } from '../../src/catalogs/escrow/index.ts'
import t from 'tap'
import { createAuthorizer } from '../../src/auth/authorizer.ts'
import { createHistoryStore, type HistoryStore } from '../../src/history/store.ts'
import { pruneBatch } from '../../src/history/prune.ts'
import { createHub } from '../../src/hub/hub.ts'
import { createSubscriptionCore } from '../../src/subscription/core.ts'
import { createTestDatabase } from '../helpers/db.ts'
import { seedHistory } from '../helpers/history-seed.ts'
import { silentLogger } from '../helpers/log.ts'

t.test('I4: a prune between the resume check and the polling read answers reset, never a page with a hole', async (t) => {
  const tdb = await createTestDatabase(t)
  // 40 old events (two days old) then 10 recent ones, all of one topic.
  const old = await seedHistory(tdb, 'user:1', 40, { firstLsn: 0x1000, ageMs: 2 * 86_400_000 })
  const recent = await seedHistory(tdb, 'user:1', 10, { firstLsn: 0x2000, ageMs: 60_000 })
  const real = createHistoryStore(tdb.database.db)
  let pruneBeforeRead = false
  // The pruner runs between the core's first look at the horizon and its read.
  const history: HistoryStore = {
    ...real,
    async readSince(topic, after, limit) {
      if (pruneBeforeRead) {
        pruneBeforeRead = false
        t.equal(await pruneBatch(tdb.database.db, new Date(Date.now() - 86_400_000), 1000), 40, 'the old events are pruned mid-request')
      }
      return real.readSince(topic, after, limit)
    },
  }
  const hub = createHub({ windowSize: 100 })
  const authorizer = createAuthorizer(tdb.database.db, hub, escrowCatalog)
  const core = createSubscriptionCore({ hub, history, authorizer, log: silentLogger(), pageSize: 100, drainLevel: 1024, stallMs: 10_000 })
  t.teardown(() => { core.close(); authorizer.close() })
  hub.goLive(recent[recent.length - 1]!, undefined)

  const clean = await core.page('user:1', old[9], 100)
  t.equal(clean.reset, undefined, 'nothing pruned yet: a page')
  t.same(clean.events.map((e) => e.id), [...old.slice(10), ...recent], 'every event after the position')

  pruneBeforeRead = true
  const raced = await core.page('user:1', old[9], 100)
  t.equal(raced.reset, 'history_gone', 'the read came after the prune: reset')
  t.same(raced.events, [], 'and no events that skip the pruned ones')
  t.equal(raced.next, recent[recent.length - 1], 'next is the head: the poller goes on from there')

  const atHorizon = await core.page('user:1', old[old.length - 1], 100)
  t.equal(atHorizon.reset, undefined, 'from the horizon itself nothing is missing')
  t.same(atHorizon.events.map((e) => e.id), recent)

  const ahead = await core.page('user:1', 'ffffffffffffffff-00000000', 100)
  t.same({ reset: ahead.reset, next: ahead.next, events: ahead.events }, { reset: 'unknown_position', next: recent[recent.length - 1], events: [] }, 'an id never issued: reset, and next is the head, not the id echoed back')

  hub.pause()
  const paused = await core.page('user:1', recent[4], 3)
  t.same(paused.events.map((e) => e.id), recent.slice(5, 8), 'a node that does not stream still answers polls from the history')
  t.equal(paused.next, recent[7])
})
