import fs from 'node:fs'

const TICKS = 100

/** What a Postgres process does, from the title Postgres gives it (`ps` shows the same). */
export type PostgresRole = 'walsender' | 'backend' | 'harness' | 'autovacuum' | 'io worker' | 'background'

/** CPU seconds of one cluster's processes over a phase, split by what they do. */
export interface PostgresCpuSplit {
  readonly seconds: Record<PostgresRole, number>
  readonly total: number
}

interface Seen {
  role: PostgresRole | undefined
  readonly start: number
  last: number
}

function readStat(pid: number): { ppid: number; cpu: number } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return { ppid: Number(fields[1]), cpu: (Number(fields[11]) + Number(fields[12])) / TICKS }
  } catch {
    return undefined
  }
}

/** undefined: the process has no title of its own yet (just forked, it shows the postmaster's command line). */
function roleOf(pid: number, harness: ReadonlySet<number>): PostgresRole | undefined {
  if (harness.has(pid)) return 'harness'
  let title = ''
  try {
    title = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')
  } catch {
    return undefined
  }
  if (!title.startsWith('postgres: ')) return undefined
  if (title.includes('walsender')) return 'walsender'
  if (title.includes('autovacuum worker')) return 'autovacuum'
  if (title.includes('io worker')) return 'io worker'
  // Background processes are named for their job; a client backend for its user and database.
  if (/postgres: (checkpointer|background writer|walwriter|autovacuum launcher|logical replication launcher|walsummarizer|archiver|startup)/.test(title)) return 'background'
  return 'backend'
}

/**
 * Follows every child of one postmaster (found from a backend's pid) so a phase's
 * Postgres CPU can be split: the walsender decoding for the slot, the backends running
 * walcast's statements, autovacuum, PG 18's I/O workers, the rest. Sampled every
 * `everyMs` because a process that exits (an autovacuum worker) takes its CPU with it:
 * what it used after the last sample is lost. `harness` pids (the script's own
 * connections) are counted apart.
 */
export function followPostgresCpu(backendPid: number, harness: readonly number[], everyMs = 200): { stop(): PostgresCpuSplit } {
  const postmaster = readStat(backendPid)?.ppid
  if (postmaster === undefined) throw new Error(`no process ${backendPid}`)
  const harnessPids = new Set(harness)
  const seen = new Map<number, Seen>()
  const sample = (first: boolean): void => {
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue
      const pid = Number(entry)
      const stat = readStat(pid)
      if (stat === undefined || stat.ppid !== postmaster) continue
      const known = seen.get(pid)
      if (known !== undefined) {
        known.last = stat.cpu
        known.role ??= roleOf(pid, harnessPids)
      } else seen.set(pid, { role: roleOf(pid, harnessPids), start: first ? stat.cpu : 0, last: stat.cpu })
    }
  }
  sample(true)
  const timer = setInterval(() => sample(false), everyMs)
  return {
    stop() {
      clearInterval(timer)
      sample(false)
      const seconds: Record<PostgresRole, number> = { walsender: 0, backend: 0, harness: 0, autovacuum: 0, 'io worker': 0, background: 0 }
      // A process that never showed a title of its own lived less than a sample: a backend.
      for (const process of seen.values()) seconds[process.role ?? 'backend'] += process.last - process.start
      return { seconds, total: Object.values(seconds).reduce((a, b) => a + b, 0) }
    },
  }
}
