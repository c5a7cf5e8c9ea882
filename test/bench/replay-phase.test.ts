/**
 * The replay phase's rounds: BENCH_REPLAY_ROUNDS overrides the profile (bad values are
 * refused, not guessed), the result sums the rounds up with medians (the target's figure)
 * and keeps each round, an older result with one replay reads as one round, and the
 * Postgres CPU of a round is read from the backends of the system's own database.
 */
import pg from 'pg'
import t from 'tap'
import { median } from '../../bench/readings.ts'
import { PROFILES } from '../../bench/profile.ts'
import { backendCpu, replayRounds, replaySize, summarizeReplay, type ReplayRound } from '../../bench/scenarios/replay.ts'
import { createTestDatabase } from '../helpers/db.ts'

const replay = (eventsPerSecond: number, extra: Partial<ReplayRound> = {}): ReplayRound => ({
  events: 100_000, firstEventMs: 30, allEventsMs: Math.round(100_000_000 / eventsPerSecond), eventsPerSecond,
  missing: 0, duplicates: 0, serverCpu: 40, generatorCpu: 45, serverMicrosPerEvent: 3, generatorMicrosPerEvent: 4, postgresMicrosPerEvent: 6, ...extra,
})

t.test('median: the middle reading, the mean of the middle two for an even count, whatever the order', async (t) => {
  t.equal(median([167_000, 131_762, 170_100, 90_000, 160_000]), 160_000)
  t.equal(median([3, 1]), 2)
  t.equal(median([4, 1, 3, 2]), 2.5)
  t.equal(median([7]), 7)
  t.ok(Number.isNaN(median([])), 'no reading: no figure')
  const values = [5, 1, 3]
  median(values)
  t.same(values, [5, 1, 3], 'the readings keep their order (rounds are listed as measured)')
})

t.test('replaySize: the profile by default, BENCH_REPLAY_ROUNDS when set', async (t) => {
  t.same(replaySize(PROFILES.full, {}), { events: 100_000, rounds: 5 }, 'full: five rounds of 100,000 events')
  t.same(replaySize(PROFILES.smoke, {}), { events: 2_000, rounds: 2 }, 'smoke: two short rounds')
  t.same(replaySize(PROFILES.full, { BENCH_REPLAY_ROUNDS: '9' }), { events: 100_000, rounds: 9 })
  t.same(replaySize(PROFILES.quick, { BENCH_REPLAY_ROUNDS: '' }), replaySize(PROFILES.quick, {}), 'empty: the profile')
  t.throws(() => replaySize(PROFILES.full, { BENCH_REPLAY_ROUNDS: '0' }), /BENCH_REPLAY_ROUNDS: expected a positive integer, got 0/)
  t.throws(() => replaySize(PROFILES.full, { BENCH_REPLAY_ROUNDS: '2.5' }), /expected a positive integer, got 2\.5/)
  t.throws(() => replaySize(PROFILES.full, { BENCH_REPLAY_ROUNDS: 'five' }), /expected a positive integer, got five/)
})

t.test('summarizeReplay: medians of the rounds, the fewest events, gaps and duplicates summed, every round kept', async (t) => {
  const rounds = [
    replay(131_762, { firstEventMs: 32, serverCpu: 41.6, serverMicrosPerEvent: 3.2 }),
    replay(167_000, { firstEventMs: 25, serverCpu: 50, serverMicrosPerEvent: 2.9 }),
    replay(90_000, { firstEventMs: 80, serverCpu: 30, serverMicrosPerEvent: 3.5, missing: 1 }),
    replay(170_100, { firstEventMs: 20, serverCpu: 55, serverMicrosPerEvent: 2.8, events: 99_990, duplicates: 2 }),
    replay(160_000, { firstEventMs: 28, serverCpu: 45, serverMicrosPerEvent: 3, postgresMicrosPerEvent: 9 }),
  ]
  const result = summarizeReplay(rounds)
  t.equal(result.eventsPerSecond, 160_000, 'events/s: the median round, not the mean (143,772) nor the last')
  t.equal(result.firstEventMs, 28)
  t.equal(result.allEventsMs, median(rounds.map((r) => r.allEventsMs)))
  t.equal(result.serverCpu, 45)
  t.equal(result.serverMicrosPerEvent, 3)
  t.equal(result.generatorMicrosPerEvent, 4)
  t.equal(result.postgresMicrosPerEvent, 6, 'each CPU figure its own median')
  t.equal(result.events, 99_990, 'a round that fell short shows in the figure')
  t.equal(result.missing, 1, 'a gap in any round counts')
  t.equal(result.duplicates, 2)
  t.same(result.rounds, rounds, 'every round, in the order measured')
  t.same(replayRounds(result), rounds)

  const two = summarizeReplay([replay(100_000), replay(150_000)])
  t.equal(two.eventsPerSecond, 125_000, 'two rounds: the mean of both')
  const one = summarizeReplay([replay(120_000)])
  t.equal(one.eventsPerSecond, 120_000)
  t.equal(one.rounds?.length, 1)
  const unmetered = summarizeReplay([replay(100_000), replay(120_000, { serverMicrosPerEvent: undefined })])
  t.equal(unmetered.serverMicrosPerEvent, undefined, 'a round without the figure: no median made of the others')
  t.throws(() => summarizeReplay([]), /no round/)
})

t.test('replayRounds: an older result without rounds is its own one round', async (t) => {
  const old = { events: 100_000, firstEventMs: 32, allEventsMs: 759, eventsPerSecond: 131_762, missing: 0, duplicates: 0, serverCpu: 41.6, generatorCpu: 45.5 }
  t.same(replayRounds(old), [old])
})

t.test('backendCpu: the CPU of one database\'s backends, not of another database\'s', async (t) => {
  const busy = await createTestDatabase(t, { prepared: false })
  const quiet = await createTestDatabase(t, { prepared: false })
  const clients = [new pg.Client({ connectionString: busy.url }), new pg.Client({ connectionString: quiet.url })]
  t.teardown(() => Promise.all(clients.map((c) => c.end().catch(() => {}))))
  await Promise.all(clients.map((c) => c.connect()))
  const busyMeter = backendCpu(busy.name)
  const quietMeter = backendCpu(quiet.name)
  await clients[0]!.query('SELECT count(*) FROM generate_series(1, 5000000)')
  await clients[1]!.query('SELECT 1')
  const busySeconds = busyMeter.stop()
  const quietSeconds = quietMeter.stop()
  t.ok(busySeconds >= 0.05, `the backend that counted to 5 million used CPU (${busySeconds} s)`)
  t.ok(quietSeconds < busySeconds / 5, `the other database's backend hardly any (${quietSeconds} s)`)
  t.equal(backendCpu('walcast_no_such_database').stop(), 0, 'no backend: no CPU')
})
