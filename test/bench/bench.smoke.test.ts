/**
 * `npm run bench -- --smoke` end to end, on the test server: every system starts
 * (Centrifugo when its binary is installed; otherwise the run says why it was not
 * measured), every phase produces figures, walcast loses nothing across the forced
 * reconnects, and the report with its SVG charts is written. Figures are not compared
 * with targets here.
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { SCENARIOS, runBench } from '../../bench/run.ts'
import { PROFILES } from '../../bench/profile.ts'
import { findCentrifugo } from '../../bench/peers/centrifugo/server.ts'
import { isIdleFailure } from '../../bench/scenarios/clients.ts'
import { adminUrl } from '../helpers/db.ts'

const out = await fs.mkdtemp(path.join(os.tmpdir(), 'walcast-bench-'))
t.teardown(() => fs.rm(out, { recursive: true, force: true }))

const reportPath = path.join(out, 'BENCHMARKS.md')
const { results, jsonPath } = await runBench({ profile: PROFILES.smoke, only: [...SCENARIOS], outDir: out, reportPath, databaseUrl: adminUrl(), log: () => {} })
// Read every file before the first assertion: with a teardown registered, tap ends the
// root test once it has been idle for a few timer turns, which a slow read can span.
const saved = JSON.parse(await fs.readFile(jsonPath, 'utf8')) as { profile: string }
const report = await fs.readFile(reportPath, 'utf8')
const charts = ['latency', 'fanout', 'slow', 'ratios', 'slot-lag']
const svgs = await Promise.all(charts.map((name) => fs.readFile(path.join(out, 'charts', `${name}.svg`), 'utf8')))

t.same(results.errors, {}, 'every phase ran')
const withCentrifugo = findCentrifugo() !== undefined
t.same(results.systems?.map((s) => s.kind), withCentrifugo ? ['walcast', 'socketio', 'centrifugo'] : ['walcast', 'socketio'], 'the systems, in interleaving order')
if (withCentrifugo) t.match(results.systems?.[2]?.version, /^Centrifugo v\d/, 'Centrifugo\'s version recorded')
else t.match(results.notMeasured?.centrifugo, /no centrifugo binary.*go install github\.com\/centrifugal\/centrifugo\/v6@/, 'Centrifugo reported as not measured, with how to build it')
t.ok(results.ingest!.backlog.eventsPerSecond > 0, 'ingest throughput measured')
t.equal(results.ingest!.backlog.events, PROFILES.smoke.ingest.backlogEvents, 'the whole backlog was written')
for (const kind of withCentrifugo ? ['walcast', 'socketio', 'centrifugo'] : ['walcast', 'socketio']) {
  const latency = results.latency!.filter((p) => p.kind === kind)
  t.ok(latency.length > 0 && latency.every((p) => p.deliveries > 0 && p.latency.p50 > 0), `${kind}: latency measured on real deliveries`)
  const fanout = results.fanout!.filter((p) => p.kind === kind)
  t.ok(fanout.length > 0 && fanout.every((p) => p.deliveries === p.offeredDeliveries && p.missing === 0 && p.duplicates === 0), `${kind}: every fan-out frame delivered once`)
  t.ok(results.idle!.some((p) => p.kind === kind && !isIdleFailure(p) && p.connections === PROFILES.smoke.idle.connections), `${kind}: idle connections opened and read`)
  const slow = results.slow!.filter((p) => p.kind === kind)
  t.ok(slow.length > 0 && slow.every((p) => p.slowClients === PROFILES.smoke.slow.slowClients && p.windows.length === 2), `${kind}: slow-consumer phase ran`)
  t.ok(slow.every((p) => p.windows.every((w) => w.deliveries > 0 && w.latency.p50 > 0 && w.peakRssMb > 0)), `${kind}: fast clients' latency and server RSS measured in both windows`)
  t.ok(slow.every((p) => p.windows.every((w) => w.missing === 0 && w.duplicates === 0) && p.fastLost === 0), `${kind}: fast clients got every frame once while slow clients were paused`)
  t.ok(slow.every((p) => p.windows[0].slowReceived > 0), `${kind}: slow clients read during the baseline`)
}
if (withCentrifugo) {
  const loss = results.loss!.filter((p) => p.kind === 'centrifugo')
  t.ok(loss.length > 0 && loss.every((p) => p.expected > 0 && p.reconnects >= p.clients), 'Centrifugo: clients reconnected and resubscribed with recovery')
  t.ok(results.slow!.filter((p) => p.kind === 'centrifugo').every((p) => p.windows.every((w) => w.serverCloses !== undefined)), 'Centrifugo: slow-consumer closes read from its metrics')
}
const backlog = results.backlog ?? []
t.equal(backlog.length, 1, 'the backlog phase ran once, on walcast')
t.ok(backlog.every((p) => p.hotEvents > 0 && p.expectedDeliveries === p.hotEvents * PROFILES.smoke.backlog.clients), 'a backlog with events on the clients\' topic')
t.ok(backlog.every((p) => Object.keys(p.closeCodes).length === 0 && p.serverCloses === 0 && p.lost === 0 && p.duplicates === 0 && p.drainSeconds !== undefined), 'clients reading while the backlog drained: no close, nothing lost, nothing twice')
t.match(report, /## 6b\. Catch-up under load/, 'the report has the backlog section')
t.match(results.scale, { notMeasured: /not in the smoke profile/ }, 'the scale-out phase stays out of the smoke profile, and says so')
t.match(report, /## 8\. Scale-out over Redis\n\nNot measured in this run: not in the smoke profile/, 'its section says why it has no figures')
const floor = results.fanout!.filter((p) => p.kind === 'uws-floor')
t.ok(floor.length > 0 && floor.every((p) => p.deliveries === p.offeredDeliveries && p.serverMicrosPerDelivery > 0), 'the bare uWS floor delivered every fan-out frame, its CPU per delivery measured')
const decoder = results.ingest!.backlog.decoderFloor
t.ok(decoder !== undefined && ('notMeasured' in decoder ? /pg_recvlogical/.test(decoder.notMeasured) : decoder.eventsPerSecond > 0), 'the decoding floor measured, or why not')
const walcastSlow = results.slow!.filter((p) => p.kind === 'walcast')
t.ok(walcastSlow.every((p) => p.slow.lost === 0 && p.slow.duplicates === 0 && p.slow.catchUpMs !== undefined), 'walcast: paused clients caught up without loss or duplicates once they read again')
t.ok(walcastSlow.every((p) => p.windows.every((w) => w.serverCloses !== undefined)), 'walcast: slow-consumer closes read from its metrics')
const walcastLoss = results.loss!.filter((p) => p.kind === 'walcast')
t.ok(walcastLoss.length > 0 && walcastLoss.every((p) => p.expected > 0 && p.lost === 0 && p.duplicates === 0 && p.reconnects >= p.clients), 'walcast: nothing lost or duplicated across forced reconnects')
const storm = results.resume!
t.ok(storm.some((p) => p.kind === 'walcast') && storm.every((p) => p.delivered === p.expected && p.missing + p.duplicates + p.resets === 0 && p.allCaughtUpMs !== undefined && p.serverCpuMs >= 0), 'resume storm: every client of every system recovered every missed event once, in order, without a reset')
t.equal(results.replay!.events, PROFILES.smoke.replay.events, 'replay delivered every missed event')
t.ok(results.live !== undefined && results.live.events === PROFILES.smoke.live.events && results.live.missing + results.live.duplicates === 0 && results.live.serverMicrosPerEvent > 0, 'live end to end: every event delivered once, walcast\'s CPU per event measured')
t.equal(results.replay!.missing + results.replay!.duplicates, 0, 'replay in order, no duplicates')
t.same(results.replay!.rounds?.map((r) => r.events), Array(PROFILES.smoke.replay.rounds).fill(PROFILES.smoke.replay.events), 'each replay round, a new client, read the whole history')
// CPU is read in clock ticks (10 ms): a 2,000-event round can fall inside one, so 0 µs is a reading.
t.ok(results.replay!.rounds!.every((r) => r.eventsPerSecond > 0 && r.serverMicrosPerEvent! >= 0 && r.postgresMicrosPerEvent! >= 0 && r.generatorMicrosPerEvent! >= 0), `each round has its own figures (${results.replay!.rounds!.map((r) => `${r.eventsPerSecond}/s, walcast ${r.serverMicrosPerEvent} µs, Postgres ${r.postgresMicrosPerEvent} µs`).join('; ')})`)
const trading = results.trading!
t.ok(trading.bookChanges > 0 && trading.exactClients === trading.clients && trading.maxLevelDeliveries <= trading.levelBound, 'trading: every client ended on the database\'s book, no level past one delivery per interval')
t.ok(trading.userEvents > 0 && trading.userEventsInOrder === trading.userEvents && trading.userEventsMissing + trading.userEventsDuplicated === 0, 'trading: every order and balance update in order, once')
t.match(report, /## 9\. Conflation: the trading catalog under a book burst/, 'the report has the conflation section')

t.equal(saved.profile, 'smoke', 'results JSON written')
t.match(report, /## Targets \(reported, not asserted\)/)
t.match(report, /!\[latency\]\(charts\/latency\.svg\)/)
t.match(report, /## 6\. Slow consumers/)
t.match(report, /## 7b\. Resume storm/)
t.match(report, /## walcast \/ limits/)
charts.forEach((name, i) => t.match(svgs[i], /^<svg/, `${name}.svg is an SVG`))
