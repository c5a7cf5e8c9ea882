import type { Database } from '../db/database.ts'
import type { ReplicationConfig } from '../config.ts'
import type { CatalogRegistry } from '../catalog/registry.ts'
import type { HistoryStore } from '../history/store.ts'
import type { Hub } from '../hub/hub.ts'
import type { Logger } from '../log.ts'
import { StartupError, WalcastError, isRetryable, sqlState } from '../errors.ts'
import { formatEventId, formatLsn, ZERO_ID } from '../event-id.ts'
import { createReplicationStream, type ReplicationStream } from '../replication/stream.ts'
import { ensureSlot, getSlot } from '../replication/slot.ts'
import { createSlotRecordingGap, dropSlot, isKnownSlot, rememberSlot } from '../replication/slot-admin.ts'
import { TransactionBatcher, type BatchStats } from './batcher.ts'
import { resolveIdOffset } from './id-epoch.ts'
import { createPublisher } from './publisher.ts'

export interface IngestDeps {
  readonly database: Database
  readonly connectionString: string
  readonly config: ReplicationConfig
  readonly registry: CatalogRegistry
  readonly history: HistoryStore
  readonly hub: Hub
  readonly log: Logger
  readonly onBatch?: (stats: BatchStats) => void
}

/** `off`: this node never ingests (WALCAST_ROLE=gateway). */
export type IngestState = 'starting' | 'streaming' | 'waiting' | 'reconnecting' | 'stopped' | 'off'

export interface IngestStatus {
  readonly state: IngestState
  readonly reason: string | undefined
  readonly durableLsn: bigint
}

export interface Ingest {
  /** Resolves when the ingest has stopped (stop() or a fatal error, which it rejects with). */
  readonly done: Promise<void>
  status(): IngestStatus
  /** Stops reading, writes and acknowledges the in-flight batch, disconnects. */
  stop(): Promise<void>
}

const BASE_BACKOFF_MS = 500
const MAX_BACKOFF_MS = 30_000
/**
 * A connection that streamed at least as long as the wait before it (capped at this) was
 * a recovery: the next outage starts again at the base delay. One that fails sooner keeps
 * the delay growing, so a server that accepts and drops walcast at once is not hammered.
 */
const HEALTHY_STREAMING_CAP_MS = 10_000

/**
 * The replication supervisor: one connection at a time on the slot; reconnects after a
 * failure from the last durable position; waits while another walcast holds the slot
 * (the active slot is the lock) and takes over when it is released.
 */
export async function startIngest(deps: IngestDeps): Promise<Ingest> {
  const { config, log, history, hub } = deps
  const db = deps.database.db
  const publish = createPublisher(hub)

  let state: IngestState = 'starting'
  let reason: string | undefined
  let durableLsn = 0n
  let stopping = false
  let current: { stream: ReplicationStream; batcher: TransactionBatcher } | undefined
  let wake: (() => void) | undefined
  // A slot walcast streamed from before (walcast.slots) that is missing at start-up was
  // dropped while walcast was stopped: the same loss as one vanishing while running.
  let knewSlot = await isKnownSlot(db, config.slot)
  let reportedMissing = false

  const sleep = (ms: number): Promise<void> => new Promise((resolve) => {
    const timer = setTimeout(resolve, ms)
    wake = () => { clearTimeout(timer); resolve() }
  })

  async function attempt(): Promise<void> {
    const slot = await resolveSlot()
    if (slot === undefined || stopping) return
    if (slot.active) {
      setState('waiting', `slot ${config.slot} is held by pid ${slot.activePid}`)
      log.info({ slot: config.slot, pid: slot.activePid }, 'replication slot in use by another process; waiting to take over')
      await sleep(config.takeoverRetryMs)
      return
    }
    const startLsn = slot.confirmedFlushLsn ?? 0n
    let startFence: Promise<void> | undefined
    const idOffset = await resolveIdOffset(db, history, startLsn, log)
    // Read before the walsender is ours: once it is, nobody else appends, so this is the
    // head the hub restarts at (I5). The newest gap tells the hub whether one was
    // recorded while it was not live (a DBA's `walcast slot create`, a recreate).
    const [head, gapEnd] = await Promise.all([history.lastId(), history.lastGapEnd()])
    if (stopping) return
    // `streaming` (what /readyz reports) only once the walsender holds the slot.
    const onStart = (): void => {
      // Changes lost with a slot may have ended memberships: fence before publishing.
      if (hub.goLive(formatEventId(head ?? ZERO_ID), gapEnd)) startFence = hub.fence()
      setState('streaming', undefined)
      log.info({ slot: config.slot, publication: config.publication, lsn: formatLsn(startLsn) }, 'replication streaming')
    }
    const stream = createReplicationStream(
      { connectionString: deps.connectionString, slot: config.slot, publication: config.publication, statusIntervalMs: config.statusIntervalMs, timeoutMs: config.replicationTimeoutMs, onStart },
      log,
    )
    const batcher = new TransactionBatcher({
      registry: deps.registry,
      history,
      idOffset,
      publish,
      fence: () => hub.fence(),
      ready: () => startFence,
      signalGap: (gap) => {
        log.warn({ slot: config.slot, tables: gap.tables, after: formatLsn(gap.afterLsn), until: formatLsn(gap.untilLsn) }, 'TRUNCATE of a tracked table: its rows left without events; recorded a gap, live clients get reset')
        hub.gap(gap.reason, gap.untilLsn)
      },
      maxBatchEvents: config.maxBatchEvents,
      acknowledge: async (lsn) => {
        await stream.acknowledge(lsn)
        durableLsn = lsn
      },
      onFailure: (err) => {
        log.warn({ err, slot: config.slot, lsn: formatLsn(durableLsn) }, 'history write failed; reconnecting from the last durable position')
        void stream.stop().catch(() => {})
      },
      onBatch: (stats) => {
        log.debug({ slot: config.slot, events: stats.events, transactions: stats.transactions, ms: Math.round(stats.durationMs), lsn: stats.ackedLsn === undefined ? undefined : formatLsn(stats.ackedLsn) }, 'batch durable')
        deps.onBatch?.(stats)
      },
    })
    current = { stream, batcher }
    durableLsn = startLsn
    try {
      await stream.run(startLsn, batcher)
    } finally {
      current = undefined
      hub.pause()
    }
    if (!stopping) throw batcher.failed ?? new WalcastError('REPLICATION_FAILED', 'replication connection ended')
  }

  async function resolveSlot() {
    let existing = await getSlot(db, config.slot)
    if (existing?.walStatus === 'lost') {
      if (!config.slotRecreate) {
        throw new StartupError('SLOT_INVALID', `replication slot ${config.slot} was invalidated by Postgres (wal_status = lost): WAL it needed was removed`, {
          hint: 'raise max_slot_wal_keep_size; then restart with WALCAST_SLOT_RECREATE=true (walcast replaces the slot and records the gap; clients resuming across it get reset)',
        })
      }
      // Its position means nothing any more: replace it exactly like a dropped slot.
      log.error({ slot: config.slot }, 'replication slot was invalidated by Postgres (wal_status = lost); dropping it to recreate')
      await dropSlot(db, config.slot)
      existing = undefined
      knewSlot = true
    }
    if (existing === undefined && knewSlot) {
      // The slot vanished under us (dropped by hand, or invalidated and removed): the WAL
      // between our durable position and now is gone for good.
      if (!config.slotRecreate) {
        setState('waiting', `slot ${config.slot} is missing`)
        // Once per episode: the condition persists until a DBA acts.
        if (!reportedMissing) log.error({ slot: config.slot, lsn: formatLsn(durableLsn) }, 'replication slot was dropped: changes after the last durable position are lost; set WALCAST_SLOT_RECREATE=true to recreate it and record the gap (or run walcast slot create)')
        reportedMissing = true
        await sleep(config.takeoverRetryMs)
        return undefined
      }
      // The gap starts at the last durable event, not at this process's position (0/0
      // right after a restart): the same rule as `walcast slot create`.
      const { slot: created, gap } = await createSlotRecordingGap(db, history, config.slot, false, 'slot_recreated')
      await rememberSlot(db, config.slot)
      log.error({ slot: config.slot, after: gap === undefined ? undefined : formatLsn(gap.afterLsn), until: formatLsn(created.confirmedFlushLsn ?? 0n) }, 'replication slot recreated; recorded a gap, clients get reset')
      knewSlot = true
      return created
    }
    reportedMissing = false
    const { slot, created } = await ensureSlot(db, config.slot)
    if (created) log.info({ slot: config.slot }, 'created replication slot')
    if (!knewSlot) await rememberSlot(db, config.slot)
    knewSlot = true
    return slot
  }

  // When the current streaming period began: how long a connection was healthy.
  let streamingSince: number | undefined
  function setState(next: IngestState, why: string | undefined): void {
    if (next === 'streaming' && state !== 'streaming') streamingSince = performance.now()
    state = next
    reason = why
  }

  /** How long the connection that just ended streamed (-1: it never did); asks once. */
  function takeStreamedMs(): number {
    const streamed = streamingSince === undefined ? -1 : performance.now() - streamingSince
    streamingSince = undefined
    return streamed
  }

  const done = (async () => {
    let backoff = BASE_BACKOFF_MS
    let lastWait = 0
    while (!stopping) {
      try {
        await attempt()
        backoff = BASE_BACKOFF_MS
      } catch (err) {
        const streamedMs = takeStreamedMs()
        if (stopping) break
        if (err instanceof StartupError) throw err
        if (sqlState(err) === '55006' || /is active for PID/i.test((err as Error).message)) {
          setState('waiting', (err as Error).message)
          log.info({ slot: config.slot }, 'replication slot in use by another process; waiting to take over')
          await sleep(config.takeoverRetryMs)
          continue
        }
        if (streamedMs >= Math.min(lastWait, HEALTHY_STREAMING_CAP_MS)) backoff = BASE_BACKOFF_MS
        setState('reconnecting', (err as Error).message)
        log.warn({ err, slot: config.slot, retryInMs: backoff, lsn: formatLsn(durableLsn) }, isRetryable(err) ? 'replication interrupted; reconnecting' : 'replication failed; retrying')
        await sleep(backoff)
        lastWait = backoff
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS)
      }
    }
    setState('stopped', undefined)
  })()

  return {
    done,
    status: () => ({ state, reason, durableLsn }),
    async stop() {
      if (stopping) return done.catch(() => {})
      stopping = true
      wake?.()
      const active = current
      if (active !== undefined) {
        let release!: () => void
        const gate = new Promise<void>((resolve) => { release = resolve })
        try {
          await active.batcher.close(gate)
          log.info({ slot: config.slot, lsn: formatLsn(durableLsn) }, 'in-flight batch durable and acknowledged')
        } catch (err) {
          log.warn({ err }, 'could not finish the in-flight batch; it will be re-read on the next start')
        } finally {
          await active.stream.stop().catch(() => {})
          release()
        }
      }
      await done.catch(() => {})
    },
  }
}
