import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { groupedBars, line, ratioBars, renderSvg } from './charts.ts'
import type { MachineDescription } from './lib/machine.ts'
import { fmt, fmtRatio, mean, measurable, NEGATIVE_REASONS, nonNegative } from './readings.ts'
import { CENTRIFUGO_BUILD } from './peers/centrifugo/server.ts'
import { isIdleFailure, type FanoutPhase, type IdlePhase, type IdleRow, type LossPhase } from './scenarios/clients.ts'
import { replayRounds, type ReplayResult } from './scenarios/replay.ts'
import type { LatencyPhase } from './scenarios/latency.ts'
import type { IngestResult } from './scenarios/ingest.ts'
import type { SlowPhase } from './scenarios/slow.ts'
import type { ResumeStormPhase } from './scenarios/resume.ts'
import { closeCount, type BacklogPhase } from './scenarios/backlog.ts'
import type { ScaleResult } from './scenarios/scale.ts'
import type { LiveResult } from './scenarios/live.ts'
import { issue15Targets } from './targets.ts'
import { scaleSection } from './report-scale.ts'
import { tradingSection, type TradingResult } from './scenarios/trading.ts'
import { soakSection } from '../load/node/soak/report.ts'
import type { SoakResult } from '../load/node/soak/soak.ts'

export interface BenchResults {
  profile: string
  startedAt: string
  durationSeconds: number
  machine: MachineDescription
  command: string
  errors: Record<string, string>
  /** Systems left out of this run, with the reason (e.g. no Centrifugo binary). Absent in older results. */
  notMeasured?: Record<string, string>
  /** The systems measured, in interleaving order. Absent in older results. */
  systems?: Array<{ kind: string; label: string; version?: string }>
  ingest?: IngestResult
  latency?: LatencyPhase[]
  fanout?: FanoutPhase[]
  replay?: ReplayResult
  resume?: ResumeStormPhase[]
  slow?: SlowPhase[]
  /** Catch-up under load (absent in older results and when not selected). */
  backlog?: BacklogPhase[]
  loss?: LossPhase[]
  /** A system whose readings failed has a row saying why (absent in older results). */
  idle?: IdleRow[]
  /** Scale-out over Redis (absent in older results and when not selected). */
  scale?: ScaleResult
  /** Live end to end to one client (absent in older results and when not selected). */
  live?: LiveResult
  /** The trading catalog under a book burst, conflated (absent in older results and when not selected). */
  trading?: TradingResult
}

const FINDINGS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'findings.md')
const SOCKETIO = 'Socket.IO + NOTIFY'
/** The peers, in the order the run interleaves them after walcast. */
const PEERS = [{ kind: 'socketio', label: SOCKETIO }, { kind: 'centrifugo', label: 'Centrifugo' }] as const

function bySystem<T extends { kind: string }>(rows: readonly T[] | undefined, kind: string): T[] {
  return (rows ?? []).filter((row) => row.kind === kind)
}

/** Who was measured, how each is fed, and what this run left out. */
export function systemsParagraph(results: Pick<BenchResults, 'systems' | 'notMeasured'>): string {
  const centrifugo = results.systems?.find((system) => system.kind === 'centrifugo')
  const left = results.notMeasured?.centrifugo
  const order = (results.systems ?? [{ label: 'walcast' }, { label: SOCKETIO }]).map((system, i) => `${'ABC'[i] ?? '?'} = ${system.label}`).join(', ')
  const rounds = (results.systems ?? [0, 0]).map((_, i) => 'ABC'[i]).join(' ')
  return [
    'Systems: **walcast** (this repo, `src/`, in its own process), fed by logical replication from the commit;',
    `**${SOCKETIO}** (\`bench/peers/socketio-notify\`: Socket.IO 4 with a room per escrow, JWT check on the handshake, a membership query on join, connection-state recovery on), fed by a trigger and \`LISTEN/NOTIFY\`;`,
    `and **Centrifugo** (\`bench/peers/centrifugo\`: Centrifugo v6 with its in-memory engine, a channel per escrow in the \`escrow\` namespace with history (\`history_size\` 1000, \`history_ttl\` 300 s), \`force_recovery\` and \`force_positioning\` on, HS256 connection JWTs and a subscription JWT per channel signed with the same secret as the others, a 1 MB per-client queue), fed through its HTTP publish API by \`bench/peers/centrifugo/feeder.ts\`, which LISTENs to the same trigger as the Socket.IO peer and sends each committed row as a publication, one batch request in flight at a time so order is kept. **Centrifugo's path differs:** it is not fed by a database commit or the WAL but by an HTTP call after a NOTIFY; nothing it publishes is durable (its history lives in its memory), and the membership check behind a subscription token is the application's job, outside its CPU. Its CPU figures include the feeder's process.`,
    centrifugo === undefined
      ? `**Centrifugo was not measured in this run**${left === undefined ? '' : `: ${left}`}. Build it with \`${CENTRIFUGO_BUILD}\` (a few minutes on 2 cores; the binary lands in \`$(go env GOPATH)/bin\`, or point \`CENTRIFUGO_BIN\` at it).`
      : `Centrifugo build: ${centrifugo.version ?? 'unknown'} (\`${CENTRIFUGO_BUILD}\`).`,
    `Each system has its own database in one cluster; the same SQL writer (\`bench/lib/writer.ts\`) feeds all of them; clients live in one separate load-generator process (\`bench/lib/load-generator.ts\`: \`ws\` for walcast and for Centrifugo's JSON protocol, written out in \`bench/lib/clients.ts\` rather than through the \`centrifuge\` SDK so each client does the same work per frame; \`socket.io-client\` for the Socket.IO peer). Client-facing phases interleave the systems ${rounds} ${rounds} … (${order}).`,
  ].join(' ')
}

/** Writes the report (Markdown + SVG charts beside it in charts/ or bench/results/charts/). */
export async function writeReport(results: BenchResults, jsonPath: string, reportPath: string): Promise<void> {
  const root = path.dirname(reportPath)
  const jsonRelative = path.relative(root, jsonPath)
  const chartsDir = path.join(path.dirname(jsonPath), 'charts')
  const chartsRel = path.relative(root, chartsDir)
  await fs.mkdir(chartsDir, { recursive: true })
  const charts: string[] = []
  const chart = async (name: string, svg: Promise<string>): Promise<string> => {
    await fs.writeFile(path.join(chartsDir, `${name}.svg`), await svg)
    charts.push(name)
    return `![${name}](${path.join(chartsRel, `${name}.svg`)})`
  }

  const lines: string[] = []
  const add = (...text: string[]): void => { lines.push(...text) }
  const m = results.machine
  add(
    '# walcast benchmarks',
    '',
    `<!-- Generated by bench/report.ts from ${jsonRelative}; edit bench/findings.md for the hand-written notes. -->`,
    '',
    `Run: \`${results.command}\` (profile **${results.profile}**), ${results.startedAt}, ${results.durationSeconds} s. Raw figures: [${path.basename(jsonRelative)}](${jsonRelative}).`,
    '',
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGb} GiB, ${m.os}; Node ${m.node}; PostgreSQL ${m.postgres} (embedded, \`fsync=off\`, same host). Every process — Postgres, walcast, the peers, the writer, the load generator — shares these ${m.cores} cores, so the load generator's CPU is reported beside each client-facing figure.${m.calibration === undefined ? '' : ` Host speed at the start (compare runs only next to it): ${m.calibration.jsonMicros} µs per JSON round trip of an event on one core, ${fmt(m.calibration.commitMicros)} µs per single-row commit, load average ${m.calibration.loadAverage}.`}`,
    '',
    systemsParagraph(results),
    '',
  )
  if (Object.keys(results.errors).length > 0) {
    add('**Phases that failed in this run:**', '', ...Object.entries(results.errors).map(([name, error]) => `- ${name}: ${error}`), '')
  }

  // Targets ------------------------------------------------------------------------------
  const walcastLatency = bySystem(results.latency, 'walcast')
  const topRate = Math.max(0, ...walcastLatency.map((p) => p.eventsPerSecond))
  const top = walcastLatency.filter((p) => p.eventsPerSecond === topRate)
  const fanW = mean(bySystem(results.fanout, 'walcast').map((p) => p.deliveriesPerSecond))
  const fanP = mean(bySystem(results.fanout, 'socketio').map((p) => p.deliveriesPerSecond))
  const cpuOf = (kind: string): number => mean(bySystem(results.fanout, kind).map((p) => p.serverMicrosPerDelivery))
  const cpuW = cpuOf('walcast')
  const cpuP = cpuOf('socketio')
  const cpuFloor = cpuOf('uws-floor')
  const idleRowOf = (kind: string): IdleRow | undefined => bySystem(results.idle, kind)[0]
  const idleOf = (kind: string): IdlePhase | undefined => {
    const row = idleRowOf(kind)
    return row === undefined || isIdleFailure(row) ? undefined : row
  }
  const idleBytes = (kind: string): number | undefined => measurable(idleOf(kind)?.bytesPerConnection)
  const idleW = idleOf('walcast')
  const idleWFailed = results.idle?.find((row) => row.kind === 'walcast' && isIdleFailure(row))
  const lostOf = (kind: string): number => bySystem(results.loss, kind).reduce((a, p) => a + p.lost, 0)
  const verdict = (ok: boolean | undefined): string => ok === undefined ? '—' : ok ? 'met' : '**missed**'
  const slowW = bySystem(results.slow, 'walcast')
  const slowRatioW = mean(slowW.map((p) => p.p99Ratio))
  const slowP99 = (rows: SlowPhase[], i: 0 | 1): number => mean(rows.map((p) => p.windows[i].latency.p99))
  const rssGrowth = (rows: SlowPhase[]): number => mean(rows.map((p) => p.windows[1].peakRssMb - p.windows[0].peakRssMb))
  const measuredPeers = PEERS.filter((peer) => (results.latency ?? results.fanout ?? results.loss ?? results.slow ?? results.idle ?? []).some((p) => p.kind === peer.kind))
  const peerList = (each: (kind: string) => string): string => measuredPeers.map((peer) => `${peer.label} ${each(peer.kind)}`).join('; ')
  const slowTarget = slowW.length === 0
    ? 'n/a'
    : `walcast: p99 ${fmt(slowP99(slowW, 0))} → ${fmt(slowP99(slowW, 1))} ms (×${fmt(slowRatioW)}) with ${fmt(slowW[0]!.slowClients)} of ${fmt(slowW[0]!.clients)} clients paused ${fmt(slowW[0]!.windows[1].seconds)} s at ${fmt(slowW[0]!.eventsPerSecond)} events/s; ${fmt(slowW.reduce((a, p) => a + (p.windows[1].serverCloses ?? 0), 0))} closed with 4008, ${fmt(slowW.reduce((a, p) => a + p.slow.lost, 0))} events lost on resume (${peerList((kind) => `×${fmt(mean(bySystem(results.slow, kind).map((p) => p.p99Ratio)))}`)})`
  const idlePeer = (kind: string): string => idleRowOf(kind) !== undefined && idleOf(kind) === undefined ? 'failed (§4)' : nonNegative(idleOf(kind)?.bytesPerConnection, 'see §4', (n) => `${fmt(n / 1024)} KiB`)
  const idleTarget = idleW === undefined
    ? idleWFailed === undefined ? 'n/a' : `walcast failed (§4) (${peerList(idlePeer)})`
    : `${nonNegative(idleW.bytesPerConnection, NEGATIVE_REASONS.rss, (n) => `${fmt(n / 1024)} KiB`)} ${idleW.baseConnections === undefined ? 'at' : `from ${fmt(idleW.baseConnections)} to`} ${fmt(idleW.connections)} connections (${peerList(idlePeer)})`
  // Issue #15 item 3's targets first (bench/targets.ts), then the others.
  const rows: string[] = issue15Targets(results).map((row) => `| ${row.target} | ${row.measured} | ${verdict(row.met)} |`)
  rows.push(
    `| ${results.ingest?.singleRow.writers ?? 8} single-row writers, flat slot lag | ${fmt(results.ingest?.singleRow.transactionsPerSecond)} tx/s, max lag ${fmt(results.ingest ? results.ingest.singleRow.maxLagBytes / 1024 : undefined)} KiB, caught up ${fmt(results.ingest?.singleRow.catchUpMs)} ms after the writers stopped | ${verdict(results.ingest && results.ingest.singleRow.catchUpMs < 2000)} |`,
    `| 1,000,000-row transaction, peak RSS ≤ 300 MB | ${results.ingest?.bigTransaction ? `${fmt(results.ingest.bigTransaction.ingestSeconds)} s after commit, peak RSS ${fmt(results.ingest.bigTransaction.peakRssMb)} MB${results.ingest.bigTransaction.ownProcess === true ? ' (walcast\'s own process)' : ' (driver process, walcast in it)'}` : 'not run in this profile'} | ${verdict(results.ingest?.bigTransaction && results.ingest.bigTransaction.peakRssMb <= 300)} |`,
    `| commit-to-client p50 ≤ 5 ms at 2,000 events/s, 1,000 clients | at ${fmt(topRate)} events/s, ${fmt(top[0]?.clients)} clients: p50 ${fmt(mean(top.map((p) => p.latency.p50)))} ms | ${verdict(top.length === 0 ? undefined : mean(top.map((p) => p.latency.p50)) <= 5)} |`,
    `| fan-out ≥ 10× the Socket.IO peer | ${fmt(fanW)} vs ${fmt(fanP)} deliveries/s (×${fmt(fanW / fanP)}); server CPU per delivery ${fmt(cpuW)} vs ${fmt(cpuP)} µs (×${fmt(cpuP / cpuW)}) | ${verdict(Number.isNaN(fanW) || Number.isNaN(fanP) ? undefined : fanW / fanP >= 10)} |`,
    `| ≤ 4 KiB RSS per idle connection | ${idleTarget} | ${verdict(idleBytes('walcast') === undefined ? undefined : idleBytes('walcast')! <= 4096)} |`,
    backlogRow(results.backlog),
    `| zero events lost across forced reconnects | walcast ${fmt(lostOf('walcast'))} lost; ${peerList((kind) => `${fmt(lostOf(kind))} lost`)} | ${verdict(results.loss === undefined ? undefined : lostOf('walcast') === 0)} |`,
    `| fast clients' p99 within 10% of the baseline while 1% of clients stop reading | ${slowTarget} | ${verdict(slowW.length === 0 ? undefined : slowRatioW <= 1.1)} |`,
  )
  add('## Targets (reported, not asserted)', '', '| target (2-core machine) | measured | |', '|---|---|---|', ...rows, '')

  // Ratios -----------------------------------------------------------------------------------
  const ratios: Array<{ metric: string; peer: string; ratio: number }> = []
  for (const peer of measuredPeers) {
    const push = (metric: string, ratio: number): void => { if (Number.isFinite(ratio) && ratio > 0) ratios.push({ metric, peer: peer.label, ratio }) }
    push('fan-out deliveries/s', fanW / mean(bySystem(results.fanout, peer.kind).map((p) => p.deliveriesPerSecond)))
    push('server CPU per fan-out delivery', cpuOf(peer.kind) / cpuW)
    const peerTop = bySystem(results.latency, peer.kind).filter((p) => p.eventsPerSecond === topRate)
    if (top.length > 0 && peerTop.length > 0) {
      push(`p50 latency @${topRate}/s`, mean(peerTop.map((p) => p.latency.p50)) / mean(top.map((p) => p.latency.p50)))
      push(`p99 latency @${topRate}/s`, mean(peerTop.map((p) => p.latency.p99)) / mean(top.map((p) => p.latency.p99)))
    }
    const slowP = bySystem(results.slow, peer.kind)
    if (slowW.length > 0 && slowP.length > 0) {
      push('fast clients\' p99, slow ones paused', slowP99(slowP, 1) / slowP99(slowW, 1))
      // Below 1 MB the growth is noise (allocator, GC timing): no ratio.
      if (rssGrowth(slowW) >= 1 && rssGrowth(slowP) >= 1) push('server RSS growth, slow ones paused', rssGrowth(slowP) / rssGrowth(slowW))
    }
    const w = idleBytes('walcast')
    const p = idleBytes(peer.kind)
    if (w !== undefined && p !== undefined && w > 0) push('RSS per idle connection', p / w)
  }
  if (ratios.length > 0) {
    const metrics = [...new Set(ratios.map((r) => r.metric))]
    const labels = measuredPeers.map((peer) => peer.label).filter((label) => ratios.some((r) => r.peer === label))
    add(
      '## walcast / peers',
      '',
      'Each ratio is the peer\'s figure over walcast\'s (deliveries/s: walcast\'s over the peer\'s), so > 1 means walcast is better.',
      '',
      `| metric | ${labels.map((label) => `vs ${label}`).join(' | ')} |`,
      `|---|${labels.map(() => '---|').join('')}`,
      ...metrics.map((metric) => `| ${metric} | ${labels.map((label) => { const r = ratios.find((x) => x.metric === metric && x.peer === label); return r === undefined ? '—' : `×${fmtRatio(r.ratio)}` }).join(' | ')} |`),
      '',
    )
    add(await chart('ratios', renderSvg(ratioBars(`walcast vs ${labels.join(' and ')}`, ratios))), '')
  }

  // Limits ---------------------------------------------------------------------------------
  const decoder = results.ingest?.backlog.decoderFloor
  const limits: string[] = []
  if (results.ingest !== undefined && decoder === undefined) limits.push(`| decoding: \`pg_recvlogical\` draining the same backlog | ${fmt(results.ingest.backlog.eventsPerSecond)} events/s | not measured in this run (it predates the floors) | — |`)
  if (decoder !== undefined) {
    limits.push('notMeasured' in decoder
      ? `| decoding: \`pg_recvlogical\` draining the same backlog | ${fmt(results.ingest!.backlog.eventsPerSecond)} events/s | not measured: ${decoder.notMeasured} | — |`
      : `| decoding: \`pg_recvlogical\` draining the same backlog (pgoutput to /dev/null) | ${fmt(results.ingest!.backlog.eventsPerSecond)} events/s durable + published | ${fmt(decoder.eventsPerSecond)} events/s | ${fmtRatio(results.ingest!.backlog.eventsPerSecond / decoder.eventsPerSecond)} of its rate |`)
  }
  if (Number.isNaN(cpuFloor) && !Number.isNaN(cpuW)) limits.push(`| fan-out: bare uWebSockets.js publishing pre-serialized frames | ${fmt(cpuW)} µs server CPU per delivery | not measured in this run (it predates the floors) | — |`)
  if (!Number.isNaN(cpuFloor)) limits.push(`| fan-out: bare uWebSockets.js publishing pre-serialized frames to the same clients | ${fmt(cpuW)} µs server CPU per delivery | ${fmt(cpuFloor)} µs | ${fmtRatio(cpuFloor / cpuW)} of its efficiency (walcast spends ×${fmt(cpuW / cpuFloor)}) |`)
  if (limits.length > 0) {
    add(
      '## walcast / limits',
      '',
      'Floors measured in the same run: what the machine does with nothing of walcast\'s work. 1 would mean walcast is at the floor.',
      '',
      '| limit | walcast | the floor | walcast as a fraction |',
      '|---|---|---|---|',
      ...limits,
      '',
    )
  }

  // Ingest ---------------------------------------------------------------------------------
  if (results.ingest) {
    const i = results.ingest
    add(
      '## 1. Ingest',
      '',
      `How: walcast started in-process (\`startService\`), its slot created, then stopped; the writer committed ${fmt(i.backlog.events)} released milestones in ${i.backlog.rowsPerTransaction}-row transactions (${fmt(i.backlog.writeSeconds)} s); walcast restarted and the hub's publications were counted from the first to the last (each event durable in \`walcast.events\` and acknowledged before it is published).`,
      '',
      `- backlog: **${fmt(i.backlog.eventsPerSecond)} events/s** durable + published (${fmt(i.backlog.drainSeconds)} s), peak RSS ${fmt(i.backlog.peakRssMb)} MB (driver process, walcast in it); CPU during the drain: walcast ${fmt(i.backlog.walcastCpu)}%, all postgres processes ${fmt(i.backlog.postgresCpu)}% (of one core)`,
      ...(i.backlog.decoderFloor === undefined ? [] : ['notMeasured' in i.backlog.decoderFloor
        ? `- decoding floor: not measured (${i.backlog.decoderFloor.notMeasured})`
        : `- decoding floor: \`pg_recvlogical\` drained the same backlog from its own slot (created with walcast's, before the writes; drained after walcast's drain, to /dev/null) at ${fmt(i.backlog.decoderFloor.eventsPerSecond)} events/s (${fmt(i.backlog.decoderFloor.seconds)} s, its start-up included)`]),
      `- ${i.singleRow.writers} concurrent single-row writers for ${i.singleRow.seconds} s: ${fmt(i.singleRow.transactionsPerSecond)} tx/s written, ${fmt(i.singleRow.publishedPerSecond)} events/s published meanwhile; slot lag (\`pg_current_wal_lsn() - confirmed_flush_lsn\`) max ${fmt(i.singleRow.maxLagBytes)} bytes; caught up ${fmt(i.singleRow.catchUpMs)} ms after the writers stopped`,
      i.bigTransaction
        ? i.bigTransaction.ownProcess === true
          ? `- one ${fmt(i.bigTransaction.rows)}-row transaction, through a walcast in its own process (the build on plain node, its own database; RSS from /proc: the peak the kernel kept, VmHWM, reset before the commit, and 20 ms samples): commit took ${fmt(i.bigTransaction.commitSeconds)} s; all events durable and published ${fmt(i.bigTransaction.ingestSeconds)} s after the commit; walcast's RSS ${fmt(i.bigTransaction.baselineRssMb)} MB before (streaming, idle, after a full GC), peak ${fmt(i.bigTransaction.peakRssMb)} MB; ${fmt(i.bigTransaction.walcastMicrosPerRow ?? 0)} µs of walcast CPU per row`
          : `- one ${fmt(i.bigTransaction.rows)}-row transaction: commit took ${fmt(i.bigTransaction.commitSeconds)} s; all events durable and published ${fmt(i.bigTransaction.ingestSeconds)} s after the commit; RSS ${fmt(i.bigTransaction.baselineRssMb)} MB before, peak ${fmt(i.bigTransaction.peakRssMb)} MB (the driver process, walcast in it: the harness's memory counted too)`
        : '- the 1,000,000-row transaction runs in the full profile only',
      '',
    )
    if (i.singleRow.lag.length > 1) add(await chart('slot-lag', renderSvg(line('slot lag under single-row writers', i.singleRow.lag.map((s) => ({ t: s.t, kib: s.bytes / 1024 })), 't', 'kib', 'seconds', 'lag (KiB)'))), '')
  }

  // Latency --------------------------------------------------------------------------------
  if (results.latency && results.latency.length > 0) {
    add(
      '## 2. Commit-to-client latency',
      '',
      `How: ${fmt(results.latency[0]!.clients)} clients, each subscribed to one of ${'the spread'} escrow topics; a single-row writer paced at each rate; latency = client receive time − the row's \`clock_timestamp()\` (same host, one clock; walcast's payload carries it at millisecond precision, so its figures are rounded up by up to 1 ms).`,
      '',
      '| system | round | events/s | deliveries | p50 ms | p95 ms | p99 ms | p99.9 ms | max ms | gaps | dups | server CPU % | generator CPU % |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
      ...results.latency.map((p) => `| ${p.system} | ${p.round} | ${fmt(p.eventsPerSecond)} | ${fmt(p.deliveries)} | ${p.latency.p50} | ${p.latency.p95} | ${p.latency.p99} | ${p.latency.p999} | ${p.latency.max} | ${p.missing} | ${p.duplicates} | ${p.cpu.server} | ${p.cpu.generator} |`),
      '',
    )
    const hosted = results.latency.filter((p) => p.sched !== undefined)
    if (hosted.length > 0) {
      add(
        'The host during each phase: a latency read while the processes wait for a core is the host\'s, not the system\'s. Offered = what the paced writer committed × subscribers per event (below the rate × seconds when the writer itself waited for a core); stolen = the cores\' time the hypervisor gave to other guests; CPU pressure = share of the phase some task was runnable without a core (/proc/pressure/cpu); run-queue wait = time the main thread was runnable without a core, per second of phase (/proc/<pid>/schedstat; Postgres = the system\'s backends summed).',
        '',
        '| system | round | events/s | offered | generators | generator loop delay p99 ms | host busy % | stolen % | CPU pressure % | run-queue wait server / generators / Postgres % | load average |',
        '|---|---|---|---|---|---|---|---|---|---|---|',
        ...hosted.map((p) => `| ${p.system} | ${p.round} | ${fmt(p.eventsPerSecond)} | ${fmt(p.offered)} | ${p.generators ?? 1} | ${p.generatorLoops === undefined ? 'n/a' : Math.max(...p.generatorLoops.map((l) => l.delayMs.p99))} | ${p.hostCpu ?? 'n/a'} | ${p.sched!.steal ?? 'n/a'} | ${p.sched!.hostPressure ?? 'n/a'} | ${p.sched!.waitPercent.server} / ${p.sched!.waitPercent.generator} / ${p.sched!.waitPercent.postgres} | ${p.sched!.loadAverage} (${p.sched!.cores} cores) |`),
        '',
      )
    }
    const rows = results.latency.flatMap((p) => (['p50', 'p95', 'p99', 'p999'] as const).map((q) => ({ system: p.system, percentile: q === 'p999' ? 'p99.9' : q, ms: p.latency[q], rate: `${p.eventsPerSecond} events/s`, round: p.round })))
    const averaged = Object.values(rows.reduce<Record<string, { system: string; percentile: string; rate: string; ms: number[] }>>((acc, r) => {
      const key = `${r.system}|${r.percentile}|${r.rate}`
      ;(acc[key] ??= { system: r.system, percentile: r.percentile, rate: r.rate, ms: [] }).ms.push(r.ms)
      return acc
    }, {})).map((r) => ({ system: r.system, percentile: r.percentile, rate: r.rate, ms: mean(r.ms) }))
    add(await chart('latency', renderSvg(groupedBars('commit-to-client latency (mean of rounds)', averaged, 'percentile', 'ms', 'ms', 'rate'))), '')
  }

  // Fan-out --------------------------------------------------------------------------------
  if (results.fanout && results.fanout.length > 0) {
    const f = results.fanout[0]!
    add(
      '## 3. Fan-out on one hot topic',
      '',
      `How: ${fmt(f.subscribers)} subscribers of \`escrow:1\`; the writer commits ${f.eventsPerSecond} events/s to it; deliveries/s = frames received / (last − first receive); every frame is checked for gaps and duplicates by the per-escrow counter. Server CPU per delivery = the server process's CPU time over the phase / frames delivered, which does not depend on how fast the load generator can read. The bare uWS floor (\`bench/floors/uws-floor.ts\`: the uWebSockets.js build walcast loads, no token check, no history, each NOTIFY of the peers' trigger published once as a pre-serialized frame) runs in this phase only.`,
      '',
      '| system | round | offered | delivered | deliveries/s | p50 ms | p99 ms | gaps | dups | reconnects | server µs/delivery | server CPU % | generator CPU % |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
      ...results.fanout.map((p) => `| ${p.system} | ${p.round} | ${fmt(p.offeredDeliveries)} | ${fmt(p.deliveries)} | ${fmt(p.deliveriesPerSecond)} | ${p.latency.p50} | ${p.latency.p99} | ${p.missing} | ${p.duplicates} | ${p.reconnects} | ${p.serverMicrosPerDelivery} | ${p.cpu.server} | ${p.cpu.generator} |`),
      '',
    )
    add(await chart('fanout', renderSvg(groupedBars('server CPU per delivery (lower is better)', results.fanout.map((p) => ({ system: p.system, round: `round ${p.round}`, us: p.serverMicrosPerDelivery })), 'round', 'us', 'µs per delivery'))), '')
  }

  // Idle -----------------------------------------------------------------------------------
  if (results.idle && results.idle.length > 0) {
    const stepped = results.idle.every((p) => p.baseConnections !== undefined)
    // A system whose readings failed says why in its row; the others keep their figures.
    const idleCells = (p: IdleRow, cells: (p: IdlePhase) => string[], width: number): string => `| ${p.system} | ${isIdleFailure(p) ? [`failed: ${p.failed.replaceAll('|', '/')}`, ...Array.from({ length: width - 1 }, () => '—')].join(' | ') : cells(p).join(' | ')} |`
    add('## 4. Memory per idle connection', '')
    if (stepped) {
      const b = results.idle[0]!.baseConnections!
      const n = results.idle[0]!.connections
      add(
        `How: each system is measured on a fresh instance of its own, not in the process the earlier phases ran in: memory those freed but left mapped takes the connections' allocations without growing RSS, so the figure depended on what ran before (walcast read 3,035 bytes per connection in one full run and 7,166 in the next, with the same JavaScript heap per connection). Every instance gets the same steps: a warm-up batch of ${fmt(b)} clients opened and closed, then the server's RSS (VmRSS) is read with no client, with ${fmt(b)} and with ${fmt(n)} clients connected, authenticated, subscribed to one topic each and silent, every reading after a full collection (Node: \`--expose-gc\`, asked over IPC; Centrifugo: Go's runtime.GC through its pprof handler, \`/debug/pprof/heap?gc=1\`; its feeder is not counted, its memory does not grow with connections). **bytes / connection** is the growth from ${fmt(b)} to ${fmt(n)} connections over the ${fmt(n - b)} added: what one more connection costs, with fixed costs (per-topic state, buffers and pools grown once, code) cancelled out. *from none* is the growth from no client to ${fmt(n)} over ${fmt(n)}, fixed costs included. The JavaScript share (V8 heap used + external) and kernel TCP memory (\`/proc/net/sockstat\`, both ends, since clients share the host) are read at the same steps. A reading that comes out negative cannot be a cost per connection: it is reported as not measurable, with the reason.`,
        '',
        '| system | RSS MB: none / base / all | bytes / connection | from none | of which JS heap | kernel bytes / connection |',
        '|---|---|---|---|---|---|',
        ...results.idle.map((row) => idleCells(row, (p) => [`${p.rssBeforeMb} / ${p.rssBaseMb ?? 'n/a'} / ${p.rssAfterMb}`, nonNegative(p.bytesPerConnection, NEGATIVE_REASONS.rss), nonNegative(p.fromZeroBytesPerConnection, NEGATIVE_REASONS.rss), nonNegative(p.heapBytesPerConnection, NEGATIVE_REASONS.heap), nonNegative(p.kernelBytesPerConnection, NEGATIVE_REASONS.kernel)], 5)),
        '',
      )
    } else {
      add(
        'How (the method of this run, since replaced by readings on fresh instances): N clients connect, authenticate and subscribe to one topic each, then stay silent; server RSS (VmRSS) before and 2 s after, divided by N, in the process the earlier phases ran in, each reading taken after full garbage collections in the Node servers (`--expose-gc`, asked over IPC), so garbage left by earlier phases does not blur the difference (Centrifugo, a Go process, is read as it is, and its feeder is not counted: its memory does not grow with connections). The JavaScript share (V8 heap used + external, same readings) is beside it, and kernel TCP memory (`/proc/net/sockstat`, both ends, since clients share the host). A reading that comes out negative cannot be a cost per connection: it is reported as not measurable, with the reason.',
        '',
        '| system | connections | RSS before MB | RSS after MB | bytes / connection | of which JS heap | kernel bytes / connection |',
        '|---|---|---|---|---|---|---|',
        ...results.idle.map((row) => idleCells(row, (p) => [fmt(p.connections), String(p.rssBeforeMb), String(p.rssAfterMb), nonNegative(p.bytesPerConnection, NEGATIVE_REASONS.rss), nonNegative(p.heapBytesPerConnection, NEGATIVE_REASONS.heap), nonNegative(p.kernelBytesPerConnection, NEGATIVE_REASONS.kernel)], 6)),
        '',
      )
    }
  }

  // Replay ---------------------------------------------------------------------------------
  if (results.replay) add(...replaySection(results.replay))

  if (results.live) {
    const l = results.live
    add(
      '## 5b. Live end to end',
      '',
      `How: one client subscribes (no replay) to one escrow; the writer commits ${fmt(l.events)} events to it as fast as it can in ${l.rowsPerTransaction}-row transactions; from the writer's start until the client held the last event. walcast's CPU over that window per event is the whole path of a live event: decode, history append, publish, one delivery. The writer shares the cores and bounds the rate from above.`,
      '',
      `- walcast: **${fmt(l.eventsPerSecond)} events/s** commit → client (${fmt(l.allEventsMs)} ms), **${fmt(l.serverMicrosPerEvent)} µs** of walcast CPU per event; gaps ${l.missing}, duplicates ${l.duplicates}; CPU: walcast ${fmt(l.cpu.server)}%, load generator ${fmt(l.cpu.generator)}% (of one core)`,
      '',
    )
  }

  // Slow consumers -----------------------------------------------------------------------------
  if (results.slow && results.slow.length > 0) {
    const s = results.slow[0]!
    add(
      '## 6. Slow consumers',
      '',
      `How: ${fmt(s.clients)} clients: ${fmt(s.clients - s.slowClients)} fast ones on the spread escrow topics (one each, as in §2) and ${fmt(s.slowClients)} slow ones (1%) with an admin token, each subscribed to all ${fmt(s.slowTopics)} spread escrows. Every topic a slow client holds therefore also has fast subscribers, so the server must keep delivering to the fast subscribers of the very topics it cannot deliver to the slow ones; and a paused slow client is offered the writer's whole stream. A single-row writer paced at ${fmt(s.eventsPerSecond)} events/s stamps each row with \`clock_timestamp()\` (latency is commit-to-client, as in §2). After a warm-up, a baseline window of ${fmt(s.windows[0].seconds)} s where everyone reads; then the slow clients stop reading for ${fmt(s.windows[1].seconds)} s: their \`ws\` socket is paused (nothing is read from the TCP stream: the kernel's socket buffers fill first, then the server's own send buffer; for Socket.IO the engine's WebSocket transport is paused the same way, for Centrifugo the \`ws\` socket). Fast clients' latency is measured per window; server RSS (VmRSS, sampled every 100 ms: at the window's end / peak); kernel TCP memory (\`/proc/net/sockstat\`, both ends); the server's own slow-consumer closes from its Prometheus metrics (walcast: 4008 past \`WALCAST_MAX_BACKPRESSURE\`; Centrifugo: 3008 past its 1 MB client queue; Socket.IO has no limit). Then the slow clients read again and resume (walcast: after a 4008 close, with \`since\` = last id; Centrifugo: with recovery from the last offset): lost = events committed to their topics during the phase that they never received.`,
      '',
      '| system | round | window | s | fast deliveries | fast p50 ms | fast p99 ms | p99 × baseline | server RSS MB (end / peak) | kernel TCP MB | slow-consumer closes | gaps | dups |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
      ...results.slow.flatMap((p) => p.windows.map((w) => `| ${p.system} | ${p.round} | ${w.window === 'baseline' ? 'baseline (all read)' : `${p.slowClients} paused`} | ${w.seconds} | ${fmt(w.deliveries)} | ${w.latency.p50} | ${w.latency.p99} | ${w.window === 'baseline' ? '' : `×${fmt(p.p99Ratio)}`} | ${w.rssMb} / ${w.peakRssMb} | ${w.kernelTcpMb} | ${w.serverCloses === undefined ? 'n/a (no limit)' : `${w.serverCloses}${w.firstCloseMs === undefined ? '' : ` (first after ${fmt(w.firstCloseMs / 1000)} s)`}`} | ${w.missing} | ${w.duplicates} |`)),
      '',
      ...(results.slow.every((p) => (p.windows[1].serverCloses ?? 0) === 0)
        ? ['No paused client reached a server\'s limit in this run (their backlog stayed in the kernel\'s socket buffers): no slow-consumer close to report; see Findings.', '']
        : []),
      'After the window the slow clients read again:',
      '',
      '| system | round | slow clients | topics each | closes seen by them | reconnects | lost | dups | all caught up after ms | fast clients: lost over the phase | server RSS after MB | server CPU % | generator CPU % |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
      ...results.slow.map((p) => `| ${p.system} | ${p.round} | ${p.slowClients} | ${p.slowTopics} | ${Object.entries(p.slow.closeCodes).map(([code, n]) => `${code} ×${n}`).join(', ') || 'none'} | ${p.slow.reconnects} | ${fmt(p.slow.lost)} | ${p.slow.duplicates} | ${p.slow.catchUpMs === undefined ? 'never' : fmt(p.slow.catchUpMs)} | ${fmt(p.fastLost)} | ${p.rssAfterMb} | ${p.cpu.server} | ${p.cpu.generator} |`),
      '',
    )
    const bars = Object.values(results.slow.flatMap((p) => p.windows.map((w) => ({ system: p.system, window: w.window === 'baseline' ? 'baseline' : 'slow clients paused', ms: w.latency.p99 })))
      .reduce<Record<string, { system: string; window: string; ms: number[] }>>((acc, r) => {
        ;(acc[`${r.system}|${r.window}`] ??= { system: r.system, window: r.window, ms: [] }).ms.push(r.ms)
        return acc
      }, {})).map((r) => ({ system: r.system, window: r.window, ms: mean(r.ms) }))
    add(await chart('slow', renderSvg(groupedBars('fast clients\' p99 (mean of rounds)', bars, 'window', 'ms', 'p99 ms'))), '')
  }

  if (results.backlog && results.backlog.length > 0) add(...backlogSection(results.backlog))

  // Loss -----------------------------------------------------------------------------------
  if (results.loss && results.loss.length > 0) {
    const l = results.loss[0]!
    add(
      '## 7. Loss across forced reconnects',
      '',
      `How: ${fmt(l.clients)} clients on spread escrow topics; the writer runs; every client's TCP connection is cut ${l.drops} times (walcast: \`terminate()\`, then resume with \`since\` = last id; Socket.IO: the engine is closed, its client reconnects with connection-state recovery; Centrifugo: \`terminate()\`, then resubscribe with \`recover\` from the last offset and epoch — a reply that is not \`recovered\` counts as a reset). Lost = events the writer committed to a client's topic during the phase that the client never received.`,
      '',
      '| system | round | written | expected deliveries | lost | duplicates | reconnects | server CPU % | generator CPU % |',
      '|---|---|---|---|---|---|---|---|---|',
      ...results.loss.map((p) => `| ${p.system} | ${p.round} | ${fmt(p.written)} | ${fmt(p.expected)} | ${fmt(p.lost)} | ${p.duplicates} | ${p.reconnects} | ${p.cpu.server} | ${p.cpu.generator} |`),
      '',
    )
  }

  // Resume storm -----------------------------------------------------------------------------
  if (results.resume && results.resume.length > 0) {
    const r = results.resume[0]!
    add(
      '## 7b. Resume storm',
      '',
      `How: ${fmt(r.clients)} clients subscribed to one hot escrow topic leave at once; ${fmt(r.missedEach)} events are committed to the topic meanwhile; then every client dials again at the same instant and resumes (walcast: \`since\` = the last id it saw; Centrifugo: \`recover\` from its offset and epoch, answered from memory inside its subscribe reply). Caught up = from the return until the last client held every missed event. Server CPU is the CPU time the server spent over the storm (Centrifugo's feeder included): on a host shared with other work it is the figure that measures the server, the wall-clock one measures the host too. walcast's clients subscribe with \`batch\` (docs/protocol.md#batched-replay), so a replay comes in batch frames of up to 64 KiB, as Centrifugo's comes inside its subscribe reply; generator CPU is what every client's parsing cost the one load-generator process.`,
      '',
      '| system | round | delivered / expected | gaps | dups | resets | all caught up after ms | server CPU ms | server CPU % | generator CPU ms | generator CPU % |',
      '|---|---|---|---|---|---|---|---|---|---|---|',
      ...results.resume.map((p) => `| ${p.system} | ${p.round} | ${fmt(p.delivered)} / ${fmt(p.expected)} | ${p.missing} | ${p.duplicates} | ${p.resets} | ${fmt(p.allCaughtUpMs)} | ${fmt(p.serverCpuMs)} | ${p.cpu.server} | ${fmt(p.generatorCpuMs)} | ${p.cpu.generator} |`),
      '',
    )
  }

  if (results.scale) add(...scaleSection(results.scale, results.machine.cores))
  if (results.trading) add(...tradingSection(results.trading))

  const soak = await latestSoakSection()
  if (soak !== undefined) add(soak.trim(), '')

  const findings = await fs.readFile(FINDINGS, 'utf8').catch(() => '')
  if (findings.trim() !== '') add(findings.trim(), '')
  add(
    '## Reproduce',
    '',
    '```sh',
    'npm ci',
    `${CENTRIFUGO_BUILD}   # once, for the Centrifugo peer (or set CENTRIFUGO_BIN)`,
    'npm run bench              # full profile, about 10 minutes on a quiet 2-core machine; writes bench/results/<date>-full.json and this file',
    'npm run bench -- --quick   # a few minutes',
    'npm run bench -- --smoke   # seconds; what CI runs (test/bench/bench.smoke.test.ts)',
    'npm run bench -- --only fanout,loss   # selected phases',
    'npm run bench -- --quick --only scale   # scale-out over Redis (needs redis-server): 1-3 nodes, the bus\'s latency, a reconnect storm',
    'npm run bench -- --no-centrifugo      # leave Centrifugo out (reported as not measured)',
    'DATABASE_URL=postgres://… npm run bench   # use that server (wal_level=logical) instead of an embedded one',
    'BENCH_CPU_PROF_DIR=/tmp/prof npm run bench -- --quick --only replay   # V8 CPU profile of the walcast process',
    'BENCH_REPLAY_ROUNDS=9 npm run bench -- --only replay   # replay only, 9 rounds of the same history (default 5; smoke 2)',
    'npm run bench -- --quick --only resume   # resume storm: 200 clients of one topic resume at once, walcast beside Centrifugo',
    'BENCH_GEN_CPU_PROF_DIR=/tmp/gen npm run bench -- --quick --only resume   # V8 CPU profile of the load generator (the clients\' side)',
    'BENCH_LATENCY_SYSTEMS=walcast BENCH_LATENCY_RATES=2000 npm run bench -- --only latency   # one system at one rate (also BENCH_LATENCY_CLIENTS, _SECONDS, _GENERATORS: load-generator processes, default 2)',
    'npm run bench -- --quick --only live   # live end to end: commit → one client as fast as the writer commits, walcast\'s CPU per event',
    '```',
    '',
    'To rewrite this file from a saved run (after editing bench/findings.md or bench/report.ts): `npm run bench:report -- bench/results/<file>.json`.',
    '',
  )
  await fs.writeFile(reportPath, lines.join('\n'))
}

/**
 * The Soak section from the newest `npm run soak` run kept in bench/results/soak/ (its
 * samples.json, its chart, and the hand-written notes.md beside them if there is one): a
 * soak runs apart from the bench, so a regenerated report must not drop it.
 */
async function latestSoakSection(): Promise<string | undefined> {
  const root = path.join(path.dirname(FINDINGS), 'results', 'soak')
  const runs = (await fs.readdir(root).catch(() => [] as string[])).sort().reverse()
  for (const run of runs) {
    const dir = path.join(root, run)
    const raw = await fs.readFile(path.join(dir, 'samples.json'), 'utf8').catch(() => undefined)
    if (raw === undefined) continue
    const repo = path.resolve(path.dirname(FINDINGS), '..')
    const json = path.relative(repo, path.join(dir, 'samples.json'))
    const section = soakSection(JSON.parse(raw) as SoakResult, json, path.relative(repo, path.join(dir, 'soak.svg')))
    const notes = await fs.readFile(path.join(dir, 'notes.md'), 'utf8').catch(() => '')
    if (notes.trim() === '') return section
    // The notes go before the section's closing "Reproduce" line.
    const at = section.lastIndexOf('Reproduce: ')
    return `${section.slice(0, at)}${notes.trim()}\n\n${section.slice(at)}`
  }
  return undefined
}

/**
 * `npm run bench:report -- <results.json> [--out DIR]`: rewrites the report from a saved
 * run (BENCHMARKS.md at the repository root, or DIR/BENCHMARKS.md), e.g. after editing
 * bench/findings.md; the charts go beside the JSON in charts/.
 */
async function main(): Promise<void> {
  const { parseArgs } = await import('node:util')
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { out: { type: 'string' } } })
  const jsonPath = positionals[0]
  if (jsonPath === undefined) throw new Error('usage: npm run bench:report -- <bench/results/…json> [--out DIR]')
  const results = JSON.parse(await fs.readFile(jsonPath, 'utf8')) as BenchResults
  const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
  const reportPath = values.out === undefined ? path.join(repo, 'BENCHMARKS.md') : path.join(values.out, 'BENCHMARKS.md')
  await writeReport(results, path.resolve(jsonPath), reportPath)
  process.stdout.write(`wrote ${reportPath} from ${jsonPath}\n`)
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  })
}

function backlogRow(phases: readonly BacklogPhase[] | undefined): string {
  const p = phases?.[0]
  if (p === undefined) return '| zero closes, zero loss for clients reading at full speed while a backlog drains | not run | n/a |'
  const closes = closeCount(p.closeCodes)
  return `| zero closes, zero loss for clients reading at full speed while a backlog drains | ${fmt(p.clients)} clients, ${fmt(p.backlogEvents)}-event backlog (${fmt(p.hotEvents)} on their topic): ${fmt(closes)} closes, ${fmt(p.lost)} lost, ${fmt(p.duplicates)} duplicates, drained in ${p.drainSeconds === undefined ? 'never (bound reached)' : `${fmt(p.drainSeconds)} s`} | ${verdictOf(closes === 0 && p.lost === 0 && p.duplicates === 0)} |`
}

/**
 * §5: every round in its own row and the median, or (an older result) its one replay as
 * it was reported then.
 */
export function replaySection(r: ReplayResult): string[] {
  const rounds = replayRounds(r)
  const how = `How: ${fmt(r.events)} events committed to one escrow (100-row transactions) and durable; one client subscribes with \`since\` = the zero id and reads until it has them all.`
  const peers = [
    `- ${SOCKETIO}: no history — a client that was away gets nothing it missed beyond Socket.IO's in-memory recovery buffer (which is per server process and lost on restart).`,
    '- Centrifugo: not measured here — its history is a bounded in-memory window per channel (1,000 publications in this configuration, at most 1,000 returned by one recovery), not a replay from the beginning; a client further behind gets `recovered: false` and must reload from the application\'s database.',
  ]
  if (r.rounds === undefined) {
    return [
      '## 5. Replay',
      '',
      `${how} This run measured one replay; the phase now runs several to new clients (\`BENCH_REPLAY_ROUNDS\`, default 5) and reports their median.`,
      '',
      `- walcast: **${fmt(r.eventsPerSecond)} events/s** (one round); first event after ${fmt(r.firstEventMs)} ms (connect + token check + first history page); all after ${fmt(r.allEventsMs)} ms; gaps ${r.missing}, duplicates ${r.duplicates}; CPU over the replay: walcast ${fmt(r.serverCpu)}%, load generator ${fmt(r.generatorCpu)}% (of one core)`,
      ...peers,
      '',
    ]
  }
  return [
    '## 5. Replay',
    '',
    `${how} ${rounds.length} rounds, each a new client replaying the same history from its start, one after another: a sub-second replay on a shared host is as much the host's figure as walcast's, so the figure is the median of the rounds, and each round is listed. First event = connect + token check + first history page. CPU is percent of one core over the round, and CPU time per replayed event of walcast, of the system database's Postgres backends (where the history pages are assembled) and of the load generator (where the one client parses every frame): it moves less with the host than the wall clock, and their sum against the round's time says how much of it was spent waiting for a core.`,
    '',
    `- walcast: **${fmt(r.eventsPerSecond)} events/s, median of ${rounds.length}** (rounds: ${rounds.map((round) => fmt(round.eventsPerSecond)).join(' / ')}); first event after ${fmt(r.firstEventMs)} ms, all after ${fmt(r.allEventsMs)} ms (medians); gaps ${r.missing}, duplicates ${r.duplicates} over all rounds${r.serverMicrosPerEvent === undefined ? '' : `; CPU per event (medians): walcast ${fmt(r.serverMicrosPerEvent)} µs, Postgres ${fmt(r.postgresMicrosPerEvent)} µs, load generator ${fmt(r.generatorMicrosPerEvent)} µs`}`,
    ...peers,
    '',
    '| round | events | events/s | first event ms | all ms | gaps | dups | walcast CPU % | walcast µs/event | Postgres µs/event | generator CPU % | generator µs/event |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rounds.map((round, i) => `| ${i + 1} | ${fmt(round.events)} | ${fmt(round.eventsPerSecond)} | ${fmt(round.firstEventMs)} | ${fmt(round.allEventsMs)} | ${round.missing} | ${round.duplicates} | ${fmt(round.serverCpu)} | ${fmt(round.serverMicrosPerEvent)} | ${fmt(round.postgresMicrosPerEvent)} | ${fmt(round.generatorCpu)} | ${fmt(round.generatorMicrosPerEvent)} |`),
    '',
  ]
}

function verdictOf(met: boolean): string {
  return met ? 'met' : '**missed**'
}

function backlogSection(phases: readonly BacklogPhase[]): string[] {
  const p = phases[0]!
  return [
    '## 6b. Catch-up under load: a backlog drains onto clients that read',
    '',
    `How: ${fmt(p.clients)} clients subscribe to \`escrow:1\` and read at full speed. walcast's history append is held back (a transaction holds \`walcast.events\` in SHARE mode, as a stalled disk would) while the writer commits ${fmt(p.backlogEvents)} events in 100-row transactions, ${fmt(p.hotEvents)} of them to \`escrow:1\`. Then the lock goes: the ingest drains the backlog in batches of up to \`WALCAST_BATCH_EVENTS\` (5,000) events, each landing on every subscriber at once. Live delivery is paced per subscriber by bytes: a socket past half of \`WALCAST_MAX_BACKPRESSURE\` leaves live delivery and catches up from the hub's window or the history as it drains. Closes are what the clients saw; 4008 and paced come from walcast's metrics. Drained = from the lock's release until every client held every hot event, bounded.${p.generators === undefined ? '' : ` The clients are spread over ${p.generators} load-generator processes (their CPU is summed).`}`,
    '',
    '| system | clients | backlog | hot events | deliveries owed | closes (client) | 4008 (server) | paced | lost | duplicates | resets | drained s | peak RSS MB | server CPU % | generator CPU % |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...phases.map((r) => `| ${r.system} | ${fmt(r.clients)} | ${fmt(r.backlogEvents)} | ${fmt(r.hotEvents)} | ${fmt(r.expectedDeliveries)} | ${closeCount(r.closeCodes) === 0 ? '0' : Object.entries(r.closeCodes).map(([code, n]) => `${code} ×${n}`).join(', ')} | ${fmt(r.serverCloses)} | ${fmt(r.paced)} | ${fmt(r.lost)} | ${r.duplicates} | ${r.resets} | ${r.drainSeconds === undefined ? 'never' : fmt(r.drainSeconds)} | ${r.peakRssMb} | ${r.cpu.server} | ${r.cpu.generator} |`),
    '',
  ]
}
