import type { ClientSpec } from '../lib/clients.ts'
import { cpuMeter } from '../lib/processes.ts'
import { HOT_ESCROW } from '../lib/seed.ts'
import { serverPids } from '../lib/systems.ts'
import { startWriter } from '../lib/writer.ts'
import { drain, openClients, type PhaseBase } from './clients.ts'
import { interleave, sleep, waitUntil, type BenchContext } from './context.ts'

export interface ResumeStormPhase extends PhaseBase {
  readonly clients: number
  /** Events committed to the hot topic while every client was away. */
  readonly missedEach: number
  readonly expected: number
  readonly delivered: number
  readonly missing: number
  readonly duplicates: number
  readonly resets: number
  /** From the moment every client dialled again until the last one held every missed event. */
  readonly allCaughtUpMs: number | undefined
  /**
   * CPU time the server spent on the whole storm (percent × window): on a host shared with
   * other work the wall-clock figure measures the host; this one measures the server.
   */
  readonly serverCpuMs: number
  /** CPU time of the load generator (every client's parsing) over the storm; absent in older results. */
  readonly generatorCpuMs?: number
  /** [ms since the return, events received by then], polled every 20 ms (every fifth kept). */
  readonly progress: ReadonlyArray<readonly [number, number]>
}

/**
 * Resume storm (issue #15 item 8): `clients` subscribers of one hot topic leave at once,
 * `missedEach` events are committed to the topic meanwhile, then every client comes back
 * at the same instant and resumes (walcast: `since` = the last id it saw; Centrifugo:
 * `recover` from its offset and epoch). Socket.IO is left out: its clients reconnect on
 * their own schedule and it has no history to recover from beyond its buffer.
 */
export async function measureResumeStorm(context: BenchContext): Promise<ResumeStormPhase[]> {
  const { clients: count, missedEach } = context.profile.resume
  const out: ResumeStormPhase[] = []
  const clients: ClientSpec[] = Array.from({ length: count }, (_, i) => ({ user: i + 1, topics: [`escrow:${HOT_ESCROW}`] }))
  const systems = context.systems.filter((s) => s.kind === 'walcast' || s.kind === 'centrifugo')
  for (const { round: r, system } of interleave({ ...context, systems })) {
    await openClients(context, system, clients)
    // Every client needs a position to resume from: a few events first.
    const warm = await startWriter({ url: system.databaseUrl, escrows: [HOT_ESCROW], rowsPerTransaction: 1, eventsPerSecond: 200, durationMs: 10_000, maxEvents: 5 })
    await warm.done
    await drain(context, 5 * count)
    context.generator.awayAll()
    await waitUntil(async () => ((await context.generator.stats()).open === 0 ? true : undefined), 10_000)
    const writer = await startWriter({ url: system.databaseUrl, escrows: [HOT_ESCROW], rowsPerTransaction: 10, eventsPerSecond: 0, durationMs: 60_000, maxEvents: missedEach })
    await writer.done
    // Let the server take in what was committed (walcast: durable and in its window).
    await sleep(1_000)
    await context.generator.resetStats()
    const meter = cpuMeter({ server: serverPids(system), generator: context.generator.pid })
    const metered = performance.now()
    const returnedAt = await context.generator.returnAll()
    const expected = count * missedEach
    const returned = performance.now()
    const progress: Array<[number, number]> = []
    // counts(), not stats(): stats() sorts every latency, which every 20 ms would load the
    // very process whose clients are catching up.
    await waitUntil(async () => {
      const received = (await context.generator.counts())?.received ?? 0
      progress.push([Math.round(performance.now() - returned), received])
      return received >= expected ? true : undefined
    }, 60_000, 20)
    const stats = await drain(context, expected, 60_000)
    const cpu = meter.stop()
    const seconds = (performance.now() - metered) / 1000
    out.push({
      system: system.label, kind: system.kind, round: r, clients: count, missedEach, expected, delivered: stats.received,
      missing: stats.missing, duplicates: stats.duplicates, resets: stats.resets,
      allCaughtUpMs: stats.received >= expected && stats.lastEventAt !== undefined ? Math.round(stats.lastEventAt - returnedAt) : undefined,
      cpu: { server: cpu.server!, generator: cpu.generator! },
      serverCpuMs: Math.round(cpu.server! * seconds * 10),
      generatorCpuMs: Math.round(cpu.generator! * seconds * 10),
      progress: progress.filter((_, i) => i % 5 === 0 || i === progress.length - 1),
    })
    context.log(`progress ${JSON.stringify(out.at(-1)!.progress)}`)
    context.log(`resume storm ${system.label} r${r}: ${count} clients × ${missedEach} missed: ${stats.received}/${expected} in ${out.at(-1)!.allCaughtUpMs ?? 'n/a'} ms (gaps ${stats.missing}, dups ${stats.duplicates}, resets ${stats.resets}; server ${cpu.server}% = ${out.at(-1)!.serverCpuMs} ms CPU, gen ${cpu.generator}% = ${out.at(-1)!.generatorCpuMs} ms)`)
    await context.generator.closeClients()
    await sleep(300)
  }
  return out
}
