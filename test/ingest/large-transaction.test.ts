import fs from 'node:fs/promises'
import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { STREAMING_WAIT_MS, countEvents } from '../helpers/service.ts'
import { childEnv, spawnWalcast } from '../helpers/spawn.ts'
import { waitFor } from '../helpers/wait.ts'

const ROWS = 200_000

async function peakRssMiB(pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)![1])
  return Math.round(kb / 1024)
}

t.test(`a ${ROWS}-row transaction flows through in bounded memory`, async (t) => {
  const tdb = await createTestDatabase(t)
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'u')`)
  const walcast = spawnWalcast(['serve'], childEnv(tdb, { WALCAST_BATCH_EVENTS: '5000' }), { plain: true })
  t.teardown(() => walcast.kill('SIGKILL'))
  await waitFor(() => walcast.stdout().includes('replication streaming'), STREAMING_WAIT_MS, 'walcast streaming')
  const before = await peakRssMiB(walcast.pid)

  const started = Date.now()
  await tdb.query(`INSERT INTO notifications (user_id, kind, title, body) SELECT 1, 'bulk', 'row ' || g, repeat('x', 100) FROM generate_series(1, ${ROWS}) g`)
  await waitFor(async () => (await countEvents(tdb)) === ROWS, 180_000, 'every row ingested')
  const seconds = (Date.now() - started) / 1000
  const peak = await peakRssMiB(walcast.pid)
  t.comment(`${ROWS}-row transaction: ${seconds.toFixed(1)} s, peak RSS ${peak} MiB (${before} MiB before)`)

  const ids = await tdb.query<{ lsns: number; maxseq: number }>(`SELECT count(DISTINCT commit_lsn)::int AS lsns, max(seq) AS maxseq FROM walcast.events`)
  t.same(ids.rows[0], { lsns: 1, maxseq: ROWS - 1 }, 'one commit LSN, sequences 0..N-1 although written in chunks')
  const slot = await tdb.query<{ done: boolean }>(`SELECT confirmed_flush_lsn >= (SELECT max(commit_lsn) FROM walcast.events) AS done FROM pg_replication_slots WHERE slot_name = $1`, [tdb.slot])
  await waitFor(async () => (await tdb.query<{ done: boolean }>(`SELECT confirmed_flush_lsn > (SELECT max(commit_lsn) FROM walcast.events) AS done FROM pg_replication_slots WHERE slot_name = $1`, [tdb.slot])).rows[0]!.done, 15_000, 'slot acknowledged past the transaction')
  t.ok(slot.rows.length === 1, 'the slot exists')
  // Holding every event (and its decoded row) at once would take well over a gigabyte.
  t.ok(peak < 300, `peak RSS ${peak} MiB stays bounded`)
  walcast.kill('SIGTERM')
  t.equal(await walcast.exited, 0)
})
