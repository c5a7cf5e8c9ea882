/**
 * §8 of BENCHMARKS.md: scale-out over Redis (bench/scenarios/scale.ts), from the results
 * JSON alone, so a saved run renders the same way again.
 */
import { fmt } from './readings.ts'
import type { ScaleResult, ScaleStep } from './scenarios/scale.ts'

export const SCALE_HEADING = '## 8. Scale-out over Redis'

const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0)

/** Which process(es) bound the step: the busiest one, and the whole host's share of its cores. */
export function cpuVerdict(step: ScaleStep, cores: number): string {
  const parts = [...step.cpu.nodes.map((cpu, i) => ({ name: i === 0 ? 'ingesting node' : `gateway ${i}`, cpu })), { name: 'Redis', cpu: step.cpu.redis }, { name: 'load generator', cpu: step.cpu.generator }]
  const total = sum(parts.map((p) => p.cpu))
  const busiest = parts.reduce((a, b) => (b.cpu > a.cpu ? b : a))
  const capacity = cores * 100
  if (step.cpu.host !== undefined && step.cpu.host >= 90) {
    return `CPU-bound: the host's ${cores} cores were ${fmt(step.cpu.host)}% busy; these processes used ${fmt(total)}% of ${capacity}% (the rest: Postgres and other work on the machine)`
  }
  if (busiest.cpu >= 90) return `CPU-bound: the ${busiest.name} used ${fmt(busiest.cpu)}% of one core (one Node process cannot use more)`
  if (total >= capacity * 0.9) return `CPU-bound: these processes together used ${fmt(total)}% of the ${cores} cores' ${capacity}%`
  return `not CPU-bound by these processes (${fmt(total)}% of ${capacity}%; busiest: ${busiest.name}, ${fmt(busiest.cpu)}%)`
}

export function scaleSection(scale: ScaleResult, cores: number): string[] {
  const lines = [SCALE_HEADING, '']
  if ('notMeasured' in scale) return [...lines, `Not measured in this run: ${scale.notMeasured}.`, '']
  const first = scale.steps[0]
  if (first !== undefined) {
    lines.push(
      `How: one Redis 7 (no persistence, \`noeviction\`, as docs/scaling.md recommends) and up to three walcast processes on one database and one slot: node 1 ingests (it holds the slot, writes each durable batch to its own hub and appends it to the Redis Stream); nodes 2 and 3 run with \`WALCAST_ROLE=gateway\` and feed their hubs from the stream. Each step adds a node (a gateway is started only for the step that uses it, so idle followers are not charged to fewer nodes). ${fmt(first.subscribers)} clients subscribe to \`escrow:1\`, spread round robin over the running nodes by the load generator (one process for all of them); the writer commits ${fmt(first.eventsPerSecond)} single-row transactions/s to it. Server CPU per delivery = CPU time of every walcast node and of Redis over the phase / frames delivered. Latency is commit→client (\`clock_timestamp()\` in the row, read on arrival, one clock), kept apart for the clients of the ingesting node and those of the gateways in the same phase. What the bus adds (Redis append + \`XREAD\` + the follower's chain check) is read per event: the first arrival at any gateway client minus the first arrival at any ingesting-node client, which takes out the commit→ingest delay both share. Host CPU = how busy all the machine's cores were (\`/proc/stat\`), other work included.`,
      '',
      '| nodes | offered | delivered | deliveries/s | gaps | dups | server µs/delivery | CPU % per node (ingesting first) | Redis CPU % | generator CPU % | host CPU % | ingest-node clients p50 / p99 ms | gateway clients p50 / p99 ms | bus per event p50 / p99 ms | what bounds it |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
      ...scale.steps.map((s) => `| ${s.nodes} | ${fmt(s.offeredDeliveries)} | ${fmt(s.deliveries)} | ${fmt(s.deliveriesPerSecond)} | ${s.missing} | ${s.duplicates} | ${fmt(s.serverMicrosPerDelivery)} | ${s.cpu.nodes.map(fmt).join(' / ')} | ${fmt(s.cpu.redis)} | ${fmt(s.cpu.generator)} | ${s.cpu.host === undefined ? 'n/a' : fmt(s.cpu.host)} | ${s.latency.ingest.p50} / ${s.latency.ingest.p99} | ${s.latency.gateway === undefined ? '—' : `${s.latency.gateway.p50} / ${s.latency.gateway.p99}`} | ${s.busDelta === undefined ? '—' : `${signed(s.busDelta.p50)} / ${signed(s.busDelta.p99)}`} | ${cpuVerdict(s, cores)} |`),
      '',
    )
    const withGateway = scale.steps.filter((s) => s.busDelta !== undefined)
    if (withGateway.length > 0) {
      lines.push(`What the bus adds to commit→client latency, per event (first gateway client − first ingesting-node client, same phase): ${withGateway.map((s) => `${s.nodes} nodes: p50 ${signed(s.busDelta!.p50)} ms, p99 ${signed(s.busDelta!.p99)} ms`).join('; ')}. Commit→client percentiles of the two groups side by side: ${withGateway.map((s) => `${s.nodes} nodes: ingesting node ${s.latency.ingest.p50} / ${s.latency.ingest.p99} ms, gateways ${s.latency.gateway?.p50 ?? 'n/a'} / ${s.latency.gateway?.p99 ?? 'n/a'} ms`).join('; ')}.`, '')
    }
    lines.push(
      `On this ${cores}-core machine every process of the run shares the same cores: the nodes, Redis, Postgres and the load generator. More nodes spread the socket writes over more processes but not over more cores, so deliveries/s here cannot grow past what ${cores} cores give; what this table shows is the cost of the bus (server µs per delivery, Redis CPU, the gateway's added latency), not the scale-out gain, which needs a core (or a host) per node.`,
      '',
    )
  }
  const storm = scale.storm
  if (storm !== undefined) {
    const r = storm.reads
    lines.push(
      `Reconnect storm: ${fmt(storm.clients)} clients on the spread escrow topics, spread round robin over ${storm.nodes} nodes, go away; ${fmt(storm.missedPerClient)} events are committed to each of their topics; then all of them subscribe again at once with \`since\` = the last id before they left. Postgres reads of walcast's database during the storm, counted with **${r.method}**${r.method === 'pg_stat_statements' ? ' (per statement, this database only: SELECTs on `walcast.events` / `walcast.event_topics` are history pages; every other statement — the per-subscribe resume check of the horizon and the gaps, the membership check — is counted apart)' : ' (the database\'s committed transactions and rows returned: history pages and per-subscribe checks together; pg_stat_statements was not loaded)'}.`,
      '',
      '| clients | nodes | missed events each | expected | delivered | lost | dups | resets | all caught up after ms | history page reads (calls / rows) | other statements (calls / rows) |',
      '|---|---|---|---|---|---|---|---|---|---|---|',
      `| ${fmt(storm.clients)} | ${storm.nodes} | ${fmt(storm.missedPerClient)} | ${fmt(storm.expected)} | ${fmt(storm.delivered)} | ${fmt(storm.lost)} | ${storm.duplicates} | ${storm.resets} | ${storm.caughtUpMs === undefined ? 'never' : fmt(storm.caughtUpMs)} | ${r.eventReads === undefined ? 'n/a' : `${fmt(r.eventReads.calls)} / ${fmt(r.eventReads.rows)}`} | ${fmt(r.other.calls)} / ${fmt(r.other.rows)} |`,
      '',
      r.eventReads === undefined
        ? 'Without per-statement counts, history pages cannot be told apart from the per-subscribe checks here.'
        : `Had every node replayed from Postgres, each of the ${fmt(storm.clients)} resumes would have read at least one history page (${fmt(storm.expected)} event rows in all); the nodes read ${fmt(r.eventReads.calls)} page(s) (${fmt(r.eventReads.rows)} rows) and served the rest from their own windows, fed by Redis. The ${fmt(r.other.calls)} other statements are the per-subscribe checks every resume makes, on one node as on three.`,
      '',
    )
  }
  return lines
}

function signed(n: number): string {
  const rounded = Math.round(n * 100) / 100
  return rounded > 0 ? `+${fmt(rounded)}` : fmt(rounded)
}
