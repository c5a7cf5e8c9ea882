import { cpuMeter } from '../lib/processes.ts'
import { bulkEscrow } from '../lib/seed.ts'
import { serverPids, type SystemUnderTest } from '../lib/systems.ts'
import { startWriter } from '../lib/writer.ts'
import { openClients } from './clients.ts'
import { waitUntil, type BenchContext } from './context.ts'

export interface LiveResult {
  readonly events: number
  readonly rowsPerTransaction: number
  /** From the writer's start until the client held the last event. */
  readonly allEventsMs: number
  /** Events committed and delivered live to one client per second, end to end. */
  readonly eventsPerSecond: number
  readonly missing: number
  readonly duplicates: number
  /** walcast's CPU time over the phase per event (decode, history, publish, one delivery). */
  readonly serverMicrosPerEvent: number
  /** Percent of one core over the phase. */
  readonly cpu: { readonly server: number; readonly generator: number }
}

/**
 * Live end to end (issue #15 item 3): one client subscribed (no replay) to one escrow
 * while the writer commits `events` to it as fast as it can in 100-row transactions;
 * from the writer's start until the client held the last event, with walcast's CPU over
 * that window. The writer shares the cores: its rate bounds the figure from above.
 */
export async function measureLive(context: BenchContext, system: SystemUnderTest): Promise<LiveResult> {
  const { events } = context.profile.live
  const rowsPerTransaction = 100
  const escrow = bulkEscrow(context.profile.population)
  await openClients(context, system, [{ user: 1, role: 'admin', topics: [`escrow:${escrow}`] }])
  await context.generator.resetStats()
  const meter = cpuMeter({ server: serverPids(system), generator: context.generator.pid })
  const metered = performance.now()
  const started = Date.now()
  const writer = await startWriter({ url: system.databaseUrl, escrows: [escrow], rowsPerTransaction, eventsPerSecond: 0, durationMs: 120_000, maxEvents: events })
  await writer.done
  const stats = await waitUntil(async () => {
    const s = await context.generator.counts()
    return s !== undefined && s.received >= events ? s : undefined
  }, 120_000, 10)
  const cpu = meter.stop()
  const seconds = (performance.now() - metered) / 1000
  const final = await context.generator.stats()
  await context.generator.closeClients()
  const all = Math.max(1, (final.lastEventAt ?? started) - started)
  const result: LiveResult = {
    events: stats?.received ?? final.received,
    rowsPerTransaction,
    allEventsMs: Math.round(all),
    eventsPerSecond: Math.round(final.received / (all / 1000)),
    missing: final.missing,
    duplicates: final.duplicates,
    serverMicrosPerEvent: Math.round((cpu.server! / 100) * seconds * 1e6 / Math.max(1, final.received) * 100) / 100,
    cpu: { server: cpu.server!, generator: cpu.generator! },
  }
  context.log(`live: ${result.events} events in ${result.allEventsMs} ms (${result.eventsPerSecond}/s end to end); walcast ${result.serverMicrosPerEvent} µs CPU per event (${cpu.server}%), generator ${cpu.generator}%`)
  return result
}
