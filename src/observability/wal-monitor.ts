import type { Db } from '../db/database.ts'
import type { Logger } from '../log.ts'
import { replicationLagSeconds, slotStats, type SlotStats } from '../replication/slot-stats.ts'

export interface WalSample {
  readonly slot: SlotStats | undefined
  readonly lagSeconds: number | undefined
  readonly overThreshold: boolean
}

export interface WalMonitor {
  /** Measures now (also used at scrape time), warning when retained WAL passes the threshold. */
  sample(): Promise<WalSample>
  /** Measures every `intervalMs` until stop(). */
  start(): void
  stop(): void
}

export interface WalMonitorOptions {
  readonly slot: string
  readonly warnBytes: number
  readonly intervalMs: number
}

/** Repeat the warning while the condition lasts, but not on every check. */
const REPEAT_WARNING_MS = 5 * 60_000

/**
 * Watches how much WAL the slot pins. A stalled or forgotten consumer makes Postgres
 * keep WAL until the disk is full; this is the early warning, long before
 * max_slot_wal_keep_size (if set at all) invalidates the slot.
 */
export function createWalMonitor(db: Db, options: WalMonitorOptions, log: Logger): WalMonitor {
  let warnedAt = 0
  let over = false

  async function sample(): Promise<WalSample> {
    const slot = await slotStats(db, options.slot)
    const lagSeconds = slot?.active ? await replicationLagSeconds(db, options.slot) : undefined
    const retained = slot?.retainedBytes ?? 0
    const now = Date.now()
    if (retained > options.warnBytes) {
      if (!over || now - warnedAt >= REPEAT_WARNING_MS) {
        warnedAt = now
        log.warn(
          { slot: options.slot, retainedBytes: retained, thresholdBytes: options.warnBytes, active: slot?.active ?? false, walStatus: slot?.walStatus },
          'replication slot retains more WAL than WALCAST_WAL_WARN_BYTES: is walcast keeping up? see docs/operations.md#when-lag-grows',
        )
      }
      over = true
    } else {
      if (over) log.info({ slot: options.slot, retainedBytes: retained }, 'retained WAL back under the threshold')
      over = false
    }
    return { slot, lagSeconds, overThreshold: over }
  }

  let timer: NodeJS.Timeout | undefined
  return {
    sample,
    start() {
      timer ??= setInterval(() => {
        sample().catch((err: unknown) => log.warn({ err }, 'could not measure the replication slot'))
      }, options.intervalMs)
      timer.unref()
    },
    stop: () => clearInterval(timer),
  }
}
