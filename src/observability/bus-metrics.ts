import { Counter, Gauge, type Registry } from 'prom-client'
import type { BusStats } from '../bus/bus.ts'

/**
 * The bus between nodes, registered only when WALCAST_REDIS_URL is set (a single node
 * has no bus to report on). The bus keeps the totals; these read them at scrape time.
 */
export function registerBusMetrics(registry: Registry, stats: () => BusStats): void {
  const registers = [registry]
  new Gauge({
    name: 'walcast_bus_up', help: '1 while Redis answers; 0 while this node serves from the Postgres history alone.', registers,
    collect() { this.set(stats().up ? 1 : 0) },
  })
  new Gauge({
    name: 'walcast_bus_following', help: '1 while this node feeds its hub from the bus stream (0: its own ingest does, or the history while Redis is down).', registers,
    collect() { this.set(stats().follower === 'following' ? 1 : 0) },
  })
  new Counter({
    name: 'walcast_bus_appended_entries_total', help: 'Stream entries this node appended as the ingesting node.', registers,
    collect() { this.reset(); this.inc(stats().appended) },
  })
  new Counter({
    name: 'walcast_bus_append_failures_total', help: 'Stream appends that failed or were dropped (the ingest went on; followers read the history).', registers,
    collect() { this.reset(); this.inc(stats().appendFailures) },
  })
  new Counter({
    name: 'walcast_bus_history_reads_total', help: 'Times a following node read from the history because the chain broke, by reason.', labelNames: ['reason'], registers,
    collect() {
      this.reset()
      for (const [reason, count] of Object.entries(stats().historyReads)) this.inc({ reason }, count)
    },
  })
}
