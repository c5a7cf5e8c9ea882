import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { startTestService, waitForHistory } from '../helpers/service.ts'
import { cliEnv, runCli } from '../helpers/cli.ts'
import { slotRow, waitForActiveSlot } from '../helpers/slot.ts'
import { waitFor } from '../helpers/wait.ts'

interface SlotJson {
  name: string; walcast: boolean; active: boolean; activePid: number | null
  confirmedFlushLsn: string; restartLsn: string; retainedBytes: number; lagBytes: number; walStatus: string; currentLsn: string
}

t.test('slot status, slot drop and slot create, as a DBA runs them', async (t) => {
  const tdb = await createTestDatabase(t)
  await tdb.query('CREATE TABLE public.audit_log (id bigserial PRIMARY KEY, body text NOT NULL)')
  const env = cliEnv(tdb)
  const service = await startTestService(t, tdb)
  const ours = async (): Promise<SlotJson> => {
    const result = await runCli(['slot', 'status', '--json'], env)
    t.equal(result.code, 0, result.stderr)
    const doc = JSON.parse(result.stdout) as { slot: string; slots: SlotJson[] }
    t.equal(doc.slot, tdb.slot)
    return doc.slots.find((s) => s.name === tdb.slot)!
  }
  const lsnGreater = async (a: string, b: string) => (await tdb.query<{ gt: boolean }>('SELECT $1::pg_lsn > $2::pg_lsn AS gt', [a, b])).rows[0]!.gt

  await waitForActiveSlot(tdb)
  const s1 = await ours()
  const walsender = await tdb.query<{ pid: number }>(`SELECT pid FROM pg_stat_replication WHERE application_name = $1`, [`walcast:${tdb.slot}`])
  t.match(s1, { walcast: true, active: true, activePid: walsender.rows[0]!.pid, walStatus: 'reserved' }, 'active, with the walsender pid')
  t.ok(s1.retainedBytes >= s1.lagBytes && s1.lagBytes >= 0, 'retained WAL covers the lag')

  const human = await runCli(['slot', 'status'], env)
  t.equal(human.code, 0)
  t.match(human.stdout, /^SLOT\s+DATABASE\s+ACTIVE PID\s+CONFIRMED FLUSH\s+RESTART LSN\s+RETAINED WAL\s+LAG\s+WAL STATUS$/m)
  t.match(human.stdout, new RegExp(`^${tdb.slot} \\*\\s+${tdb.name}\\s+${walsender.rows[0]!.pid}\\s`, 'm'), "walcast's slot is marked")

  // Tracked traffic: walcast confirms it, so the confirmed position moves.
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (1, 'T', 1, 'USD')`)
  await waitForHistory(tdb, 1)
  await waitFor(async () => (await lsnGreater((await slotRow(tdb))!.confirmed_flush_lsn, s1.confirmedFlushLsn)), 15_000, 'the slot to advance')
  const s2 = await ours()
  t.ok(await lsnGreater(s2.confirmedFlushLsn, s1.confirmedFlushLsn), 'confirmed_flush_lsn advanced after tracked traffic')

  // An active slot is never dropped, --force or not.
  for (const args of [['slot', 'drop'], ['slot', 'drop', '--force']]) {
    const refused = await runCli(args, env)
    t.equal(refused.code, 1, `${args.join(' ')} refuses an active slot`)
    t.match(refused.stderr, new RegExp(`^walcast: SLOT_ACTIVE: replication slot ${tdb.slot} is active \\(walsender pid \\d+\\); an active slot is never dropped\\nhint: stop the walcast`))
  }
  t.ok(await slotRow(tdb), 'the slot is still there')

  // Stopped walcast: the slot is inactive, and writes elsewhere make it fall behind.
  await service.stop()
  await waitFor(async () => !(await slotRow(tdb))!.active, 15_000, 'slot inactive')
  const s3 = await ours()
  t.match(s3, { active: false, activePid: null })
  await tdb.query(`INSERT INTO public.audit_log (body) SELECT md5(g::text) FROM generate_series(1, 2000) g`)
  const s4 = await ours()
  t.ok(s4.lagBytes - s3.lagBytes > 50_000, 'lag grows with WAL written while nobody consumes')
  t.ok(s4.retainedBytes - s3.retainedBytes > 50_000, 'so does the retained WAL')
  t.equal(s4.confirmedFlushLsn, s3.confirmedFlushLsn, 'the confirmed position stays put')

  const unforced = await runCli(['slot', 'drop'], env)
  t.equal(unforced.code, 1)
  t.match(unforced.stderr, /^walcast: FORCE_REQUIRED: dropping slot \S+ \(inactive, at [0-9A-F]+\/[0-9A-F]+, retaining [\d.]+ \w+\) loses every change walcast has not read yet\nhint: re-run with --force/)
  t.ok(await slotRow(tdb), 'not dropped without --force')

  const forced = await runCli(['slot', 'drop', '--force', '--json'], env)
  t.equal(forced.code, 0, forced.stderr)
  t.match(JSON.parse(forced.stdout), { slot: tdb.slot, dropped: true, confirmedFlushLsn: s4.confirmedFlushLsn })
  t.equal(await slotRow(tdb), undefined, 'dropped with --force')

  const missing = await runCli(['slot', 'drop', '--force'], env)
  t.equal(missing.code, 1)
  t.match(missing.stderr, /^walcast: SLOT_MISSING: replication slot \S+ does not exist\nhint: /)
  const none = await runCli(['slot', 'status'], env)
  t.match(none.stdout, new RegExp(`walcast's slot ${tdb.slot} does not exist`))

  // Re-creating it with events in the history records the gap.
  const created = await runCli(['slot', 'create'], env)
  t.equal(created.code, 0, created.stderr)
  t.match(created.stdout, new RegExp(`^created replication slot ${tdb.slot} at [0-9A-F]+/[0-9A-F]+\\nrecorded a gap from [0-9A-F]+/[0-9A-F]+ to [0-9A-F]+/[0-9A-F]+: clients resuming from before it get reset`))
  const gaps = await tdb.query<{ reason: string }>('SELECT reason FROM walcast.gaps')
  t.same(gaps.rows.map((r) => r.reason), ['slot_created'])
  const again = await runCli(['slot', 'create'], env)
  t.equal(again.code, 1)
  t.match(again.stderr, /^walcast: SLOT_EXISTS: /)
})

t.test('slot create --assume-no-writes on an empty history records no gap', async (t) => {
  const tdb = await createTestDatabase(t)
  const result = await runCli(['slot', 'create', '--json', '--assume-no-writes'], cliEnv(tdb))
  t.equal(result.code, 0, result.stderr)
  t.match(JSON.parse(result.stdout), { slot: tdb.slot, created: true, gap: null })
  t.ok(await slotRow(tdb))
  const gaps = await tdb.query('SELECT 1 FROM walcast.gaps')
  t.equal(gaps.rowCount, 0)
})
