/**
 * The idle-memory phase measures each system on its own: one that fails (a fresh instance
 * that does not start, a peer that cannot hold the clients) gets a row saying why, and
 * the systems after it are still measured. It used to throw at the first failure, which
 * lost every system's idle row for the run (a Socket.IO peer that could not connect
 * 10,000 clients). The readings themselves are exercised end to end by bench.smoke.test.ts.
 */
import t from 'tap'
import { isIdleFailure, measureIdle } from '../../bench/scenarios/clients.ts'
import type { BenchContext } from '../../bench/scenarios/context.ts'
import type { SystemUnderTest } from '../../bench/lib/systems.ts'
import { PROFILES } from '../../bench/profile.ts'

t.test('a system whose idle readings fail gets a failed row with the reason; the systems after it are still tried', async (t) => {
  const systems = [
    { kind: 'walcast', label: 'walcast' },
    { kind: 'socketio', label: 'Socket.IO + NOTIFY' },
    { kind: 'centrifugo', label: 'Centrifugo' },
  ] as unknown as SystemUnderTest[]
  const logged: string[] = []
  // Only what measureIdle reads of the context before a system starts: no generator is asked.
  const context = { profile: PROFILES.smoke, systems, suffix: 'test', log: (line: string) => logged.push(line) } as unknown as BenchContext
  const tried: string[] = []
  const rows = await measureIdle(context, async (kind) => {
    tried.push(kind)
    if (kind === 'socketio') throw new Error('only 9,412 of 10000 clients connected')
    return { notMeasured: `${kind} binary missing` }
  })
  t.same(tried, ['walcast', 'socketio', 'centrifugo'], 'every system was tried, past the failures')
  t.same(rows.map((row) => isIdleFailure(row) ? [row.system, row.failed] : [row.system, 'measured']), [
    ['walcast', 'a fresh instance could not start (walcast binary missing)'],
    ['Socket.IO + NOTIFY', 'only 9,412 of 10000 clients connected'],
    ['Centrifugo', 'a fresh instance could not start (centrifugo binary missing)'],
  ], 'one row each, saying why')
  t.ok(rows.every((row) => row.connections === PROFILES.smoke.idle.connections && row.baseConnections === PROFILES.smoke.idle.baseConnections), 'with the sizes it was asked for')
  t.equal(logged.filter((line) => line.includes('failed')).length, 3, 'each failure is logged')
})
