import { fmt, mean, measurable } from './readings.ts'
import type { BenchResults } from './report.ts'
import { isIdleFailure, type IdleFailure, type IdlePhase } from './scenarios/clients.ts'
import { replayRounds } from './scenarios/replay.ts'

/** One row of the report's targets table: met is undefined when the run has no figure for it. */
export interface TargetRow {
  readonly target: string
  readonly measured: string
  readonly met: boolean | undefined
}

const LATENCY_RATE = 2_000
const LATENCY_CLIENTS = 1_000

/**
 * The targets of issue #15 item 3, each computed from a run's JSON, in the issue's order.
 * A figure the run does not hold (a phase not selected, an older results file, a peer not
 * measured) gives no verdict and says so; it is never counted as met.
 */
export function issue15Targets(results: BenchResults): TargetRow[] {
  return [cpuPerLiveEvent(results), catchUp(results), liveEndToEnd(results), replay(results), fanoutCpu(results), idleRss(results), latencyP99(results)]
}

/** walcast's CPU per event over the live phase, or else over the ingest drain (the path every live event takes). */
function cpuPerLiveEvent(results: BenchResults): TargetRow {
  const target = 'CPU per live event ≤ 10 µs'
  const live = results.live
  if (live !== undefined) {
    return { target, measured: `${fmt(live.serverMicrosPerEvent)} µs of walcast CPU per event (${fmt(live.events)} events to one client, commit to delivery)`, met: live.serverMicrosPerEvent <= 10 }
  }
  const backlog = results.ingest?.backlog
  if (backlog === undefined) return { target, measured: 'not measured in this run', met: undefined }
  const micros = (backlog.walcastCpu / 100) * backlog.drainSeconds * 1e6 / backlog.events
  return { target, measured: `${fmt(micros)} µs of walcast CPU per event over the ${fmt(backlog.events)}-event ingest drain (decode → history → publish, no client)`, met: micros <= 10 }
}

function catchUp(results: BenchResults): TargetRow {
  const backlog = results.ingest?.backlog
  const target = `catch-up ≥ 60,000 events/s (a WAL backlog in ${backlog?.rowsPerTransaction ?? 100}-row transactions, durable + published)`
  if (backlog === undefined) return { target, measured: 'not measured in this run', met: undefined }
  return { target, measured: `${fmt(backlog.eventsPerSecond)} events/s`, met: backlog.eventsPerSecond >= 60_000 }
}

function liveEndToEnd(results: BenchResults): TargetRow {
  const target = 'live end to end ≥ 30,000 events/s (commit → client)'
  const live = results.live
  if (live === undefined) return { target, measured: 'not measured in this run (its phase: `npm run bench -- --only live`)', met: undefined }
  return { target, measured: `${fmt(live.eventsPerSecond)} events/s (${fmt(live.events)} events in ${live.rowsPerTransaction}-row transactions to one client)`, met: live.eventsPerSecond >= 30_000 }
}

function replay(results: BenchResults): TargetRow {
  const target = 'replay ≥ 150,000 events/s to one client'
  const r = results.replay
  if (r === undefined) return { target, measured: 'not measured in this run', met: undefined }
  const rounds = replayRounds(r)
  // One sub-second replay on a shared host is mostly the host: the verdict is the median's,
  // and every round is shown beside it.
  const figure = rounds.length === 1
    ? `${fmt(r.eventsPerSecond)} events/s (one round: ${fmt(r.events)} events, first after ${fmt(r.firstEventMs)} ms)`
    : `median of ${rounds.length}: ${fmt(r.eventsPerSecond)} events/s; rounds: ${rounds.map((round) => fmt(round.eventsPerSecond)).join(' / ')} (${fmt(r.events)} events each, first after ${fmt(r.firstEventMs)} ms)`
  return { target, measured: figure, met: r.eventsPerSecond >= 150_000 }
}

function fanoutCpu(results: BenchResults): TargetRow {
  const target = 'server CPU per fan-out delivery ≤ Centrifugo\'s and within 1.5× bare uWS'
  const cpuOf = (kind: string): number | undefined => {
    const rows = (results.fanout ?? []).filter((p) => p.kind === kind)
    return rows.length === 0 ? undefined : mean(rows.map((p) => p.serverMicrosPerDelivery))
  }
  const walcast = cpuOf('walcast')
  const centrifugo = cpuOf('centrifugo')
  const floor = cpuOf('uws-floor')
  if (walcast === undefined) return { target, measured: 'not measured in this run', met: undefined }
  const parts = [
    `walcast ${fmt(walcast)} µs`,
    centrifugo === undefined ? 'Centrifugo not measured' : `Centrifugo ${fmt(centrifugo)} µs (its feeder included)`,
    floor === undefined ? 'bare uWS not measured' : `bare uWS ${fmt(floor)} µs (×${fmt(walcast / floor)})`,
  ]
  const failed = (centrifugo !== undefined && walcast > centrifugo) || (floor !== undefined && walcast > 1.5 * floor)
  // Either comparison alone can miss the target; meeting it needs both.
  return { target, measured: parts.join(', '), met: failed ? false : centrifugo === undefined || floor === undefined ? undefined : true }
}

function idleRss(results: BenchResults): TargetRow {
  const target = 'idle RSS per subscribed connection ≤ 1/10 of Centrifugo\'s'
  const of = (kind: string) => (results.idle ?? []).find((p) => p.kind === kind)
  const wRow = of('walcast')
  const cRow = of('centrifugo')
  // A system whose readings failed has no figure: no verdict, and the row says why.
  const failures = [wRow, cRow].filter((row) => row !== undefined && isIdleFailure(row)).map((row) => `${row!.system} failed (${(row as IdleFailure).failed})`)
  if (failures.length > 0) return { target, measured: `${failures.join('; ')} (§4)`, met: undefined }
  const w = wRow as IdlePhase | undefined
  const c = cRow as IdlePhase | undefined
  if (w === undefined || c === undefined) return { target, measured: w === undefined ? 'not measured in this run' : 'Centrifugo not measured in this run', met: undefined }
  const wb = measurable(w.bytesPerConnection)
  const cb = measurable(c.bytesPerConnection)
  const text = (bytes: number | undefined): string => bytes === undefined ? 'not measurable (§4)' : `${fmt(bytes)} bytes`
  const how = w.baseConnections === undefined ? '' : ` per connection added from ${fmt(w.baseConnections)} to ${fmt(w.connections)}, fresh processes (§4)`
  return { target, measured: `walcast ${text(wb)}, Centrifugo ${text(cb)}${wb === undefined || cb === undefined ? '' : ` (1/${fmt(cb / wb)})`}${how}`, met: wb === undefined || cb === undefined ? undefined : wb * 10 <= cb }
}

function latencyP99(results: BenchResults): TargetRow {
  const target = `commit→client p99 ≤ 20 ms at ${fmt(LATENCY_RATE)} events/s × ${fmt(LATENCY_CLIENTS)} clients`
  const rows = (results.latency ?? []).filter((p) => p.kind === 'walcast' && p.eventsPerSecond === LATENCY_RATE && p.clients === LATENCY_CLIENTS)
  if (rows.length === 0) return { target, measured: `not measured at that size in this run (profile ${results.profile})`, met: undefined }
  const p99 = mean(rows.map((p) => p.latency.p99))
  // On 2 cores the writer, Postgres, the server and the clients share the cores: a figure
  // read while they queue for one says more about the host than about walcast.
  const hosted = rows.filter((p) => p.sched?.hostPressure !== undefined)
  const host = hosted.length === 0 ? '' : `; host CPU pressure ${fmt(mean(hosted.map((p) => p.sched!.hostPressure!)))}%, server waiting for a core ${fmt(mean(hosted.map((p) => p.sched!.waitPercent.server!)))}% of the time`
  return { target, measured: `p99 ${fmt(p99)} ms (p50 ${fmt(mean(rows.map((p) => p.latency.p50)))} ms; ${rows.length} round${rows.length === 1 ? '' : 's'}${host})`, met: p99 <= 20 }
}
