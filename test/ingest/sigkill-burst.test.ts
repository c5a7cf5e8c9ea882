import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { STREAMING_WAIT_MS, countEvents, historyRows } from '../helpers/service.ts'
import { childEnv, spawnWalcast } from '../helpers/spawn.ts'
import { waitFor } from '../helpers/wait.ts'

const TOTAL = 10_000
const PER_TRANSACTION = 25

t.test('I1, I2: SIGKILL in the middle of a burst: after a restart every change is in the history exactly once, in order', async (t) => {
  const tdb = await createTestDatabase(t)
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'u')`)
  const env = childEnv(tdb, { WALCAST_BATCH_EVENTS: '500' })
  const first = spawnWalcast(['serve'], env)
  t.teardown(() => first.kill('SIGKILL'))
  await waitFor(() => first.stdout().includes('replication streaming'), STREAMING_WAIT_MS, 'first walcast streaming')

  // The writer keeps committing while walcast is killed and restarted.
  const writer = (async () => {
    for (let i = 0; i < TOTAL / PER_TRANSACTION; i++) {
      await tdb.query(`INSERT INTO notifications (user_id, kind, title) SELECT 1, 'burst', 'n' || g FROM generate_series(1, ${PER_TRANSACTION}) g`)
    }
  })()
  await waitFor(async () => (await countEvents(tdb)) >= 2000, 60_000, 'part of the burst ingested')
  first.kill('SIGKILL')
  t.equal(await first.exited, 'SIGKILL', 'the first walcast died without any chance to clean up')

  const second = spawnWalcast(['serve'], env)
  t.teardown(() => second.kill('SIGKILL'))
  await writer
  await waitFor(async () => (await countEvents(tdb)) >= TOTAL, 120_000, 'the whole burst ingested')

  const rows = await historyRows(tdb)
  t.equal(rows.length, TOTAL, `exactly ${TOTAL} events`)
  const notificationIds = rows.map((r) => Number(r.payload.notificationId))
  const expected = Array.from({ length: TOTAL }, (_, i) => i + 1)
  t.same(notificationIds, expected, 'each change exactly once, in commit order')
  const ids = rows.map((r) => r.id)
  t.ok(ids.every((id, i) => i === 0 || id > ids[i - 1]!), 'ids strictly increase')
  second.kill('SIGTERM')
  t.equal(await second.exited, 0, 'the second walcast shuts down cleanly (exit 0 after SIGTERM)', { stderr: second.stderr(), stdout: second.stdout().slice(-2000) })
})
