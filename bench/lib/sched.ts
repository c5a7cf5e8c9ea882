import fs from 'node:fs'
import os from 'node:os'

/**
 * How much a phase was held up by the host's CPU rather than by the code measured: on a
 * 2-core machine the server, its Postgres backends, the writer and the load generator
 * share the cores, and a latency read there includes every wait for a core. Linux keeps
 * the figures: /proc/<pid>/schedstat (a thread's run time and run-queue wait) and
 * /proc/pressure/cpu (share of time some task was runnable but had no core).
 */

/** A thread's run time and time waiting for a core, in ns (/proc/<pid>/schedstat; the main thread of a process). */
export function schedstat(pid: number): { runNs: number; waitNs: number } | undefined {
  try {
    const [run, wait] = fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number)
    return run === undefined || wait === undefined || Number.isNaN(run) || Number.isNaN(wait) ? undefined : { runNs: run, waitNs: wait }
  } catch {
    return undefined
  }
}

/** The processes whose command line contains `needle` (a Postgres backend names its database there). */
export function pidsByCommandLine(needle: string): number[] {
  const pids: number[] = []
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) pids.push(Number(entry))
    } catch {
      // gone meanwhile
    }
  }
  return pids
}

/** Microseconds some task waited for a core so far (/proc/pressure/cpu `some total`); undefined without PSI. */
export function cpuPressureMicros(): number | undefined {
  try {
    const match = /^some .*total=(\d+)/m.exec(fs.readFileSync('/proc/pressure/cpu', 'utf8'))
    return match === null ? undefined : Number(match[1])
  } catch {
    return undefined
  }
}

/** Jiffies of all cores so far, and those stolen by the hypervisor (/proc/stat `cpu` line, field 8). */
export function stealJiffies(): { steal: number; total: number } | undefined {
  try {
    const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
    return fields.length < 8 ? undefined : { steal: fields[7]!, total: fields.reduce((a, b) => a + b, 0) }
  } catch {
    return undefined
  }
}

export interface SchedFigures {
  /** Percent of one core each group ran (its main threads, summed). */
  readonly runPercent: Record<string, number>
  /**
   * Percent of the phase each group's main threads spent runnable but without a core,
   * summed (100 = a whole second per second): time that lands in a latency as queueing.
   */
  readonly waitPercent: Record<string, number>
  /** Percent of the phase during which some task on the host waited for a core (PSI); absent without PSI. */
  readonly hostPressure: number | undefined
  /** Percent of the cores' time the hypervisor gave to other guests (a VM's vCPUs are not always its own). */
  readonly steal?: number
  /** The 1-minute load average when the phase ended, and the core count it is read against. */
  readonly loadAverage: number
  readonly cores: number
}

/**
 * Samples run and wait time of groups of processes between start() and stop(). A group is
 * a list of pids or a function giving it (Postgres backends come and go: they are looked
 * up at both ends and a backend seen only at one end counts from zero).
 */
export function schedMeter(groups: Record<string, readonly number[] | (() => readonly number[])>): { stop(): SchedFigures } {
  const names = Object.keys(groups)
  // Every group's pids first, then every reading in one pass: a lookup scans /proc (many
  // ms on a loaded host), and a group read after another's lookup would cover a window
  // shifted by it, so two groups holding one process would differ by what it ran meanwhile.
  const lookUp = (): Map<string, readonly number[]> => new Map(names.map((name) => {
    const group = groups[name]!
    return [name, typeof group === 'function' ? group() : group]
  }))
  const read = (pids: readonly number[]): Map<number, { runNs: number; waitNs: number }> => {
    const readings = new Map<number, { runNs: number; waitNs: number }>()
    for (const pid of pids) {
      const reading = schedstat(pid)
      if (reading !== undefined) readings.set(pid, reading)
    }
    return readings
  }
  const pids0 = lookUp()
  const t0 = performance.now()
  const pressure0 = cpuPressureMicros()
  const steal0 = stealJiffies()
  const before = new Map(names.map((name) => [name, read(pids0.get(name)!)]))
  return {
    stop() {
      const pids1 = lookUp()
      const elapsedNs = (performance.now() - t0) * 1e6
      const pressure1 = cpuPressureMicros()
      const steal1 = stealJiffies()
      const after = new Map(names.map((name) => [name, read([...new Set([...before.get(name)!.keys(), ...pids1.get(name)!])])]))
      const runPercent: Record<string, number> = {}
      const waitPercent: Record<string, number> = {}
      for (const name of names) {
        let run = 0
        let wait = 0
        const earlier = before.get(name)!
        for (const [pid, now] of after.get(name)!) {
          const then = earlier.get(pid) ?? { runNs: 0, waitNs: 0 }
          run += now.runNs - then.runNs
          wait += now.waitNs - then.waitNs
        }
        runPercent[name] = percent(run, elapsedNs)
        waitPercent[name] = percent(wait, elapsedNs)
      }
      return {
        runPercent,
        waitPercent,
        hostPressure: pressure0 === undefined || pressure1 === undefined ? undefined : percent((pressure1 - pressure0) * 1000, elapsedNs),
        ...(steal0 === undefined || steal1 === undefined ? {} : { steal: percent(steal1.steal - steal0.steal, steal1.total - steal0.total) }),
        loadAverage: Math.round(os.loadavg()[0]! * 100) / 100,
        cores: os.availableParallelism(),
      }
    },
  }
}

const percent = (part: number, whole: number): number => (whole <= 0 ? 0 : Math.round((part / whole) * 1000) / 10)
