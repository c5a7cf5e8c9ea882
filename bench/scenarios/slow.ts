import type { ClientSpec, PoolStats } from '../lib/clients.ts'
import type { Percentiles } from '../lib/latencies.ts'
import { cpuMeter, rssSampler, tcpSocketMemoryBytes } from '../lib/processes.ts'
import { spreadEscrows } from '../lib/seed.ts'
import { serverPids, type SystemUnderTest } from '../lib/systems.ts'
import { startWriter, currentAmounts } from '../lib/writer.ts'
import { openClients, spreadClients, topicMap, type PhaseBase } from './clients.ts'
import { interleave, round, sleep, type BenchContext } from './context.ts'

export interface SlowWindow {
  readonly window: 'baseline' | 'slow'
  readonly seconds: number
  /** Frames the fast clients received during the window. */
  readonly deliveries: number
  readonly latency: Percentiles
  readonly missing: number
  readonly duplicates: number
  /** Frames the slow clients read during the window (none once they are paused, beyond what was in flight). */
  readonly slowReceived: number
  readonly rssMb: number
  readonly peakRssMb: number
  /** Kernel TCP buffers on the host at the window's end (both ends: clients share the host). */
  readonly kernelTcpMb: number
  /** walcast: slow-consumer closes (4008) its metrics counted during the window; undefined for the peer. */
  readonly serverCloses: number | undefined
  /** walcast: when its metrics first showed a close, from the window's start (metrics read every 500 ms in both windows). */
  readonly firstCloseMs: number | undefined
}

export interface SlowPhase extends PhaseBase {
  readonly clients: number
  readonly slowClients: number
  /** Topics each slow client subscribes to (every spread escrow). */
  readonly slowTopics: number
  readonly eventsPerSecond: number
  readonly windows: readonly [SlowWindow, SlowWindow]
  /** Fast clients' p99 while slow clients are paused / in the baseline window. */
  readonly p99Ratio: number
  /** What became of the slow clients once they read again. */
  readonly slow: {
    /** walcast: WebSocket close codes; the peer: Socket.IO disconnect reasons. */
    readonly closeCodes: Record<string, number>
    readonly reconnects: number
    /** Events committed to their topics during the phase that they never received. */
    readonly lost: number
    readonly duplicates: number
    /** From resume until every slow client held every event; undefined when they never did. */
    readonly catchUpMs: number | undefined
  }
  /** Events the fast clients never received over the whole phase (baseline, slow window, catch-up). */
  readonly fastLost: number
  readonly rssAfterMb: number
}

/**
 * Slow consumers (issue item 6): clients on spread escrow topics and a paced writer; after a
 * baseline window, 1% of the clients stop reading their sockets (the kernel buffers fill, the
 * server sees backpressure) for a window of the same length. The fast clients' latency and
 * the server's RSS are compared between the windows; then the slow clients read again and
 * must catch up without loss.
 */
export async function measureSlow(context: BenchContext): Promise<SlowPhase[]> {
  const { profile } = context
  const { clients: total, slowClients, eventsPerSecond, baselineSeconds, slowSeconds } = profile.slow
  const escrows = spreadEscrows(profile.population)
  // The writer's first moments (connections, JIT) belong to neither window.
  const warmupMs = profile.settleMs
  const out: SlowPhase[] = []
  for (const { round: r, system } of interleave(context)) {
    // The slow ones watch every spread escrow (an operator's dashboard): each topic they
    // hold also has fast subscribers, and their stream is the writer's whole rate, so a
    // paused socket fills its buffers within the window.
    const fast = spreadClients(total - slowClients, profile.population)
    if (fast.length < escrows.length) throw new Error(`slow: ${fast.length} fast clients cannot cover ${escrows.length} spread escrows`)
    const slow: ClientSpec[] = Array.from({ length: slowClients }, (_, i) => ({ user: total - slowClients + i + 1, role: 'admin', topics: escrows.map((e) => `escrow:${e}`), slow: true }))
    await openClients(context, system, [...fast, ...slow])
    const start = topicMap(await currentAmounts(system.databaseUrl), escrows)
    const closesAtStart = await slowConsumerCloses(system)
    const meter = cpuMeter({ server: serverPids(system), generator: context.generator.pid })
    const writer = await startWriter({ url: system.databaseUrl, escrows, rowsPerTransaction: 1, eventsPerSecond, durationMs: warmupMs + (baselineSeconds + slowSeconds) * 1000 })
    await sleep(warmupMs)
    await context.generator.resetStats()

    const measureWindow = async (window: SlowWindow['window'], seconds: number, closesBefore: number | undefined): Promise<{ result: SlowWindow; closes: number | undefined }> => {
      const rss = rssSampler(system.pid)
      const started = performance.now()
      const end = started + seconds * 1000
      let firstCloseMs: number | undefined
      while (performance.now() < end) {
        await sleep(Math.min(500, end - performance.now()))
        if (firstCloseMs === undefined && closesBefore !== undefined && (await slowConsumerCloses(system))! > closesBefore) firstCloseMs = Math.round(performance.now() - started)
      }
      const stats = await context.generator.stats()
      const { last, peak } = rss.stop()
      const closes = await slowConsumerCloses(system)
      return {
        closes,
        result: {
          window, seconds, deliveries: stats.received, latency: stats.latency, missing: stats.missing, duplicates: stats.duplicates,
          slowReceived: stats.slow?.received ?? 0, rssMb: round(last / 1048576), peakRssMb: round(peak / 1048576),
          kernelTcpMb: round(tcpSocketMemoryBytes() / 1048576),
          serverCloses: closes === undefined || closesBefore === undefined ? undefined : closes - closesBefore,
          firstCloseMs,
        },
      }
    }
    const baseline = await measureWindow('baseline', baselineSeconds, closesAtStart)
    await context.generator.resetStats()
    await context.generator.pauseSlow()
    const during = await measureWindow('slow', slowSeconds, baseline.closes)
    await context.generator.resumeSlow()
    const resumed = performance.now()
    const written = await writer.done
    const cpu = meter.stop()
    const final = topicMap(written.lastAmount as Map<number, number>, escrows)
    const { stats, caughtUpAt } = await catchUp(context, start, final)
    const rssAfter = rssSampler(system.pid).stop().last
    const slowStats = stats.slow!
    const [b, s] = [baseline.result, during.result]
    out.push({
      system: system.label, kind: system.kind, round: r, clients: total, slowClients, slowTopics: escrows.length, eventsPerSecond,
      windows: [b, s], p99Ratio: round(s.latency.p99 / Math.max(0.01, b.latency.p99), 2),
      slow: {
        closeCodes: slowStats.closeCodes, reconnects: slowStats.reconnects, lost: slowStats.lost ?? 0, duplicates: slowStats.duplicates,
        catchUpMs: caughtUpAt === undefined ? undefined : Math.round(caughtUpAt - resumed),
      },
      fastLost: stats.lost ?? 0, rssAfterMb: round(rssAfter / 1048576), cpu: { server: cpu.server!, generator: cpu.generator! },
    })
    context.log(`slow ${system.label} r${r}: fast p99 ${b.latency.p99} → ${s.latency.p99} ms (×${out.at(-1)!.p99Ratio}), RSS peak ${b.peakRssMb} → ${s.peakRssMb} MB, ${s.serverCloses ?? 'n/a'} server closes, slow clients: ${JSON.stringify(slowStats.closeCodes)} lost ${slowStats.lost} caught up ${out.at(-1)!.slow.catchUpMs ?? 'never'} ms`)
    await context.generator.closeClients()
    await sleep(300)
  }
  return out
}

/**
 * Waits until every client (fast and slow) holds every event committed during the phase,
 * or until nothing arrives for the profile's settle time; bounded.
 */
async function catchUp(context: BenchContext, start: Record<string, number>, final: Record<string, number>, timeoutMs = 30_000): Promise<{ stats: PoolStats; caughtUpAt: number | undefined }> {
  const deadline = performance.now() + timeoutMs
  const count = (s: PoolStats): number => s.received + (s.slow?.received ?? 0)
  let last = await context.generator.stats(start, final)
  let since = performance.now()
  while (performance.now() < deadline) {
    if (last.lost === 0 && last.slow?.lost === 0) return { stats: last, caughtUpAt: performance.now() }
    await sleep(50)
    const now = await context.generator.stats(start, final)
    if (count(now) !== count(last)) since = performance.now()
    else if (performance.now() - since >= context.profile.settleMs * 2) return { stats: now, caughtUpAt: undefined }
    last = now
  }
  return { stats: last, caughtUpAt: undefined }
}

/** The server's own count of slow-consumer closes (walcast 4008, Centrifugo 3008); undefined for the Socket.IO peer. */
async function slowConsumerCloses(system: SystemUnderTest): Promise<number | undefined> {
  return system.slowConsumerCloses?.()
}
