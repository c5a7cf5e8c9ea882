import t from 'tap'
import { freePort, startOwnPostgres } from '../helpers/own-server.ts'
import { spawnWalcast } from '../helpers/spawn.ts'
import { query, startStandby, waitForReplay } from '../helpers/standby.ts'
import { adminToken, authEnv } from '../helpers/tokens.ts'
import { sleep, waitFor } from '../helpers/wait.ts'

const SLOT = 'walcast'

interface Row { id: string; escrow: number; lsn: string }

async function history(url: string): Promise<Row[]> {
  return (await query<Row>(url, `
    SELECT lpad(to_hex((commit_lsn - '0/0')::bigint), 16, '0') || '-' || lpad(to_hex(seq), 8, '0') AS id,
           (payload ->> 'escrowId')::int AS escrow, commit_lsn::text AS lsn
    FROM walcast.events ORDER BY commit_lsn, seq`)).rows
}

const insertEscrows = (url: string, from: number, to: number): Promise<unknown> =>
  query(url, `INSERT INTO escrows (id, title, amount, currency) SELECT g, 'e' || g, 1, 'USD' FROM generate_series(${from}, ${to}) g`)

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)

t.test('I6: walcast pointed at a promoted standby without a synced slot never streams across the gap: it waits, and a recreate records the gap and resets clients', async (t) => {
  const primary = await startOwnPostgres(t)
  const standby = await startStandby(t, primary, { physicalSlot: 'standby1', syncSlots: false })
  const port = await freePort()
  const env = authEnv({
    DATABASE_URL: primary.url, WALCAST_SLOT: SLOT, WALCAST_LOG_LEVEL: 'info', WALCAST_PORT: String(port),
    WALCAST_STATUS_INTERVAL: '1s', WALCAST_TAKEOVER_RETRY: '300ms', WALCAST_HEARTBEAT: '1s',
  })
  const first = spawnWalcast(['serve'], env)
  t.teardown(() => first.kill('SIGKILL'))
  await waitFor(() => first.stdout().includes('replication streaming'), 60_000, 'walcast streaming from the primary')
  await insertEscrows(primary.url, 1, 20)
  await waitFor(async () => (await history(primary.url)).length === 20, 30_000, '20 events in the primary\'s history')
  first.kill('SIGTERM')
  t.equal(await first.exited, 0)
  // Read by no walcast before the failover, and the standby keeps no slot that remembers them.
  await insertEscrows(primary.url, 21, 25)
  await waitForReplay(primary.url, standby.url)
  t.same((await query(standby.url, 'SELECT slot_name FROM pg_replication_slots')).rows, [], 'the standby holds no copy of the slot')
  await primary.stop()
  await standby.promote()

  // Default settings: walcast knows the slot (walcast.slots came over with the data) and waits.
  const waiting = spawnWalcast(['serve'], { ...env, DATABASE_URL: standby.url })
  t.teardown(() => waiting.kill('SIGKILL'))
  await waitFor(() => waiting.stdout().includes('replication slot was dropped'), 60_000, 'walcast saying the slot is missing')
  const ready = await waitFor(async () => {
    const response = await fetch(`http://127.0.0.1:${port}/readyz`)
    return { status: response.status, body: await response.json() as unknown }
  }, 15_000, '/readyz answering')
  t.match(ready, { status: 503, body: { error: { code: 'not_ready', message: /slot walcast is missing/ } } }, '/readyz says why it is not streaming')
  await insertEscrows(standby.url, 26, 30)
  await sleep(3000) // ten takeover retries
  t.same((await history(standby.url)).map((r) => r.escrow), range(1, 20), 'nothing streamed across the missing slot')
  t.same((await query(standby.url, 'SELECT slot_name FROM pg_replication_slots')).rows, [], 'no new slot was created silently')
  t.same((await query(standby.url, 'SELECT reason FROM walcast.gaps')).rows, [])
  t.notMatch(waiting.stdout(), /replication streaming/, 'never streaming')
  waiting.kill('SIGTERM')
  t.equal(await waiting.exited, 0)

  // The DBA's choice: recreate the slot. The loss becomes a recorded gap.
  const recreating = spawnWalcast(['serve'], { ...env, DATABASE_URL: standby.url, WALCAST_SLOT_RECREATE: 'true' })
  t.teardown(() => recreating.kill('SIGKILL'))
  await waitFor(() => recreating.stdout().includes('replication streaming'), 60_000, 'walcast streaming on a new slot')
  t.match(recreating.stdout(), /replication slot recreated; recorded a gap, clients get reset/)
  await insertEscrows(standby.url, 31, 35)
  await waitFor(async () => (await history(standby.url)).length >= 25, 30_000, 'new events after the recreate')
  const rows = await history(standby.url)
  t.same(rows.map((r) => r.escrow), [...range(1, 20), ...range(31, 35)], 'what the lost slot held never arrives; new changes do')
  const gaps = (await query<{ after: string; until: string; reason: string }>(standby.url, 'SELECT after_lsn::text AS after, until_lsn::text AS until, reason FROM walcast.gaps')).rows
  t.match(gaps, [{ after: rows[19]!.lsn, reason: 'slot_recreated' }], 'one gap, from the last event walcast had')

  const token = await adminToken()
  for (const since of [rows[9]!.id, rows[19]!.id]) {
    const response = await fetch(`http://127.0.0.1:${port}/v1/events?topic=escrow:1&after=${since}`, { headers: { authorization: `Bearer ${token}` } })
    t.match(await response.json(), { events: [], reset: true, reason: 'stream_gap' }, `polling from ${since}, before the gap: reset`)
  }
  recreating.kill('SIGTERM')
  t.equal(await recreating.exited, 0, 'walcast stops cleanly', { stderr: recreating.stderr() })
})
