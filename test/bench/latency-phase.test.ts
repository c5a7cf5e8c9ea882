/**
 * The latency phase's size and its host figures: BENCH_LATENCY_* override the profile
 * (bad values are refused, not guessed), latencies kept in several generators merge into
 * one set of percentiles, the scheduler figures read real processes from /proc, and the
 * machine description carries the host's speed.
 */
import { spawn } from 'node:child_process'
import t from 'tap'
import { LatencySample, percentiles } from '../../bench/lib/latencies.ts'
import { describeMachine } from '../../bench/lib/machine.ts'
import { cpuPressureMicros, pidsByCommandLine, schedMeter, schedstat } from '../../bench/lib/sched.ts'
import { PROFILES } from '../../bench/profile.ts'
import { latencySize } from '../../bench/scenarios/latency.ts'
import { adminUrl } from '../helpers/db.ts'

t.test('latencySize: the profile by default, the environment when set, at least two generators', async (t) => {
  const full = latencySize(PROFILES.full, {})
  t.same({ clients: full.clients, rates: full.rates, seconds: full.seconds, systems: full.systems }, { clients: 1000, rates: [500, 2000], seconds: 15, systems: undefined })
  t.ok(full.generators >= 2 && full.generators <= 4, 'one generator per core, 2 to 4')
  const set = latencySize(PROFILES.quick, { BENCH_LATENCY_CLIENTS: '1000', BENCH_LATENCY_RATES: '2000, 500', BENCH_LATENCY_SECONDS: '2.5', BENCH_LATENCY_GENERATORS: '1', BENCH_LATENCY_SYSTEMS: 'walcast,socketio' })
  t.same(set, { clients: 1000, rates: [2000, 500], seconds: 2.5, generators: 1, systems: ['walcast', 'socketio'] })
  t.same(latencySize(PROFILES.quick, { BENCH_LATENCY_RATES: '' }).rates, PROFILES.quick.latency.rates, 'empty: the profile')
  t.throws(() => latencySize(PROFILES.quick, { BENCH_LATENCY_GENERATORS: '1.5' }), /BENCH_LATENCY_GENERATORS: expected a positive integer/)
  t.throws(() => latencySize(PROFILES.quick, { BENCH_LATENCY_CLIENTS: '0' }), /BENCH_LATENCY_CLIENTS: expected a positive number/)
  t.throws(() => latencySize(PROFILES.quick, { BENCH_LATENCY_RATES: '2000,fast' }), /BENCH_LATENCY_RATES: expected a positive number, got fast/)
})

t.test('latencies of several generators merge before the percentiles are taken', async (t) => {
  const a = new LatencySample()
  const b = new LatencySample()
  for (let i = 1; i <= 100; i++) a.add(1)
  for (let i = 1; i <= 99; i++) b.add(2)
  b.add(500)
  const merged = percentiles(Float64Array.from([...a.samples(), ...b.samples()]))
  t.equal(merged.count, 200)
  t.equal(merged.p50, 1, 'the lower half is a\'s')
  t.equal(merged.p99, 2, 'b\'s one slow frame is not the p99 of both')
  t.equal(merged.max, 500)
  a.clear()
  t.same(a.samples(), [], 'cleared with the stats')
})

t.test('schedMeter: a busy child runs, an idle one does not; a group looked up by command line', async (t) => {
  const marker = `walcast-sched-test-${process.pid}`
  const busy = spawn(process.execPath, ['-e', `process.stdout.write('up'); const end = Date.now() + 8000; while (Date.now() < end) {} // ${marker}`])
  const idle = spawn(process.execPath, ['-e', 'process.stdout.write(\'up\'); setTimeout(() => {}, 8000)'])
  t.teardown(() => { busy.kill(); idle.kill() })
  // Past Node's start-up, which is work for the idle one too.
  await Promise.all([busy, idle].map((child) => new Promise((resolve) => child.stdout!.once('data', resolve))))
  t.ok(schedstat(busy.pid!) !== undefined, 'schedstat reads a live process')
  t.equal(schedstat(2 ** 30), undefined, 'no such process: undefined, not a throw')
  t.same(pidsByCommandLine(marker), [busy.pid], 'found by its command line')
  const meter = schedMeter({ busy: [busy.pid!], idle: [idle.pid!], byName: () => pidsByCommandLine(marker), gone: [2 ** 30] })
  await new Promise((resolve) => setTimeout(resolve, 500))
  const figures = meter.stop()
  t.ok(figures.runPercent.busy! + figures.waitPercent.busy! > 50, `the spinning child ran or waited for a core most of the time (${figures.runPercent.busy}% + ${figures.waitPercent.busy}%)`)
  t.ok(figures.runPercent.idle! < figures.runPercent.busy! / 3, `the idle child hardly ran (${figures.runPercent.idle}% against ${figures.runPercent.busy}%)`)
  t.ok(Math.abs(figures.runPercent.byName! - figures.runPercent.busy!) < 5, 'the same process through a lookup (read a moment apart)')
  t.equal(figures.runPercent.gone, 0, 'a process that is gone counts nothing')
  t.ok(figures.loadAverage >= 0 && figures.cores >= 1)
  t.ok(figures.steal === undefined || (figures.steal >= 0 && figures.steal <= 100), `stolen by the hypervisor: ${figures.steal}%`)
  const pressure = cpuPressureMicros()
  if (pressure === undefined) t.equal(figures.hostPressure, undefined, 'no PSI on this kernel: no figure')
  else t.ok(figures.hostPressure! >= 0 && figures.hostPressure! <= 100, `host CPU pressure ${figures.hostPressure}%`)
})

t.test('describeMachine measures the host\'s speed on one core and on Postgres (runs on different VMs compare next to it)', async (t) => {
  const machine = await describeMachine(adminUrl())
  t.ok(machine.calibration !== undefined, 'calibrated')
  const { jsonMicros, commitMicros, loadAverage } = machine.calibration!
  t.ok(jsonMicros > 0 && jsonMicros < 1000, `${jsonMicros} µs per JSON round trip`)
  t.ok(commitMicros > 0 && commitMicros < 1_000_000, `${commitMicros} µs per single-row commit`)
  t.ok(loadAverage >= 0)
})
