import type { CatalogRegistry } from '../catalog/registry.ts'
import type { RowChange } from '../catalog/row-change.ts'
import type { HistoryStore } from '../history/store.ts'
import { makeEvent, type StoredEvent } from '../history/event.ts'
import type { StreamHandler } from '../replication/stream.ts'

export interface BatchStats {
  readonly events: number
  readonly transactions: number
  readonly durationMs: number
  readonly ackedLsn: bigint | undefined
}

/**
 * Changes that produced no events: a TRUNCATE of tracked tables. Every position before
 * `gapMark(untilLsn)` is reset (src/subscription/resume-rule.ts); see TransactionBatcher.truncate.
 */
export interface StreamGap {
  readonly afterLsn: bigint
  readonly untilLsn: bigint
  readonly reason: 'truncate'
  /** The tracked tables it emptied (names only, never row data). */
  readonly tables: readonly string[]
}

export interface BatcherDeps {
  readonly registry: CatalogRegistry
  /** Events are appended, and gaps recorded, here; both durable before any acknowledgement. */
  readonly history: HistoryStore
  /** Acknowledge the slot up to `lsn`: only ever called once everything before it is durable. */
  readonly acknowledge: (lsn: bigint) => Promise<void>
  /** Hands durable events on, in id order. */
  readonly publish: (events: StoredEvent[]) => void
  /**
   * A gap is durable and every event before it published; the events after it follow.
   * Live clients learn here (hub.gap) that the stream they hold is no longer complete.
   */
  readonly signalGap: (gap: StreamGap) => void
  /**
   * Access may have changed with no event that names it (a TRUNCATE, which may have
   * emptied a membership table): resolves once every subscription's access was asked
   * again. Nothing after it is published before (I7).
   */
  readonly fence: () => Promise<void>
  /** Resolves when publishing may go on (a fence the ingest raised at start-up). */
  readonly ready?: () => Promise<void> | undefined
  readonly maxBatchEvents: number
  /** Added to commit LSNs to make ids (src/ingest/id-epoch.ts); 0 unless a server was found behind. */
  readonly idOffset?: bigint
  readonly onBatch?: (stats: BatchStats) => void
  /**
   * A write failed: nothing after it may be acknowledged on this connection, so the
   * caller drops the connection and resumes from the last durable position. Called once.
   */
  readonly onFailure: (err: Error) => void
}

interface OpenTransaction {
  /** The commit LSN in id space (idOffset added). */
  readonly lsn: bigint
  readonly time: Date
  seq: number
  /** Tracked tables it truncated: a gap at its commit. */
  truncated: string[] | undefined
}

/** Events in stream order, then the gap that follows them (none on the open segment). */
interface Segment {
  readonly events: StoredEvent[]
  /** A TRUNCATE follows these events: access is asked again before any later event is published. */
  fence: boolean
  gap: StreamGap | undefined
}

const openSegment = (): Segment => ({ events: [], fence: false, gap: undefined })

/**
 * Turns the stream of one replication connection into history writes: events of the
 * queued transactions are written together, then published, and the slot is
 * acknowledged up to the last transaction whose events are all durable.
 * While a write is slow the handler's promise stays pending, which pauses the socket
 * (the replication stream's inbox): memory stays bounded by `maxBatchEvents`.
 */
export class TransactionBatcher implements StreamHandler {
  // Never empty; the last segment is the one events are added to.
  private segments: Segment[] = [openSegment()]
  private queued = 0
  private ackLsn: bigint | undefined
  private completed = 0
  private txn: OpenTransaction | undefined
  private tail: Promise<void> = Promise.resolve()
  /** A full batch waits here for a write to take it (handOff). */
  private takenWaiters: (() => void)[] = []
  private scheduled = false
  private writing = 0
  private failure: Error | undefined
  private closed: Promise<void> | undefined
  private readonly tracked: ReadonlySet<string>

  private readonly offset: bigint

  constructor(private readonly deps: BatcherDeps) {
    this.tracked = new Set(deps.registry.tables)
    this.offset = deps.idOffset ?? 0n
  }

  begin(commitLsn: bigint, commitTime: Date): void | Promise<void> {
    if (this.closed) return this.closed
    this.txn = { lsn: commitLsn + this.offset, time: commitTime, seq: 0, truncated: undefined }
  }

  change(change: RowChange): void | Promise<void> {
    if (this.closed) return this.closed
    const txn = this.txn
    if (txn === undefined) throw new Error('row change outside a transaction')
    const drafts = this.deps.registry.map(change)
    if (drafts.length > 0) {
      const open = this.segments[this.segments.length - 1]!.events
      for (const draft of drafts) open.push(makeEvent({ lsn: txn.lsn, seq: txn.seq++ }, draft, txn.time))
      this.queued += drafts.length
    }
    // A huge transaction is written in chunks; ids stay deterministic (lsn, ordinal).
    if (this.queued >= this.deps.maxBatchEvents) return this.handOff()
  }

  message(): void | Promise<void> {
    // Heartbeats are transactional messages: their commit is acknowledged like any other.
    if (this.closed) return this.closed
  }

  /**
   * A TRUNCATE empties tables with no row change per row: clients holding those rows
   * would silently diverge. The gap is placed at the transaction's commit, where the
   * TRUNCATE becomes visible: its events (before and after the TRUNCATE) are written and
   * published as usual, in chunks if it is large, then at the commit the gap is
   * recorded, live clients are signalled (I6), and only then is the commit acknowledged
   * (I1). Bounds: from the commit LSN to the commit's end LSN; the reset head clients get
   * is `gapMark(end)`, a position above every event of this transaction and below every
   * later one, so a client told `reset` resumes from it without another reset.
   */
  truncate(tables: string[]): void | Promise<void> {
    if (this.closed) return this.closed
    const txn = this.txn
    if (txn === undefined) throw new Error('truncate outside a transaction')
    // Untracked tables in the publication produce no events: emptying them loses none.
    const emptied = tables.filter((table) => this.tracked.has(table))
    if (emptied.length === 0) return
    txn.truncated = [...new Set([...(txn.truncated ?? []), ...emptied])]
    // The events after it wait for access to be asked again: a TRUNCATE of a membership
    // table ends memberships without a party_left to cut them off at.
    this.segments[this.segments.length - 1]!.fence = true
    this.segments.push(openSegment())
  }

  commit(commitLsn: bigint, endLsn: bigint): void | Promise<void> {
    if (this.closed) return this.closed
    const truncated = this.txn?.truncated
    if (truncated !== undefined) {
      // In id space, like the events' ids.
      this.segments[this.segments.length - 1]!.gap = { afterLsn: commitLsn + this.offset, untilLsn: endLsn + this.offset, reason: 'truncate', tables: truncated }
      this.segments.push(openSegment())
    }
    this.txn = undefined
    this.ackLsn = endLsn
    this.completed++
    if (this.queued >= this.deps.maxBatchEvents) return this.handOff()
    this.schedule()
  }

  /** Writes whatever is pending; resolves once durable, acknowledged and published. */
  flush(): Promise<void> {
    this.writing++
    const run = this.tail.then(() => this.writePending()).finally(() => { this.writing-- })
    this.tail = run.catch(() => {})
    return run
  }

  /**
   * A full batch is queued for writing, and the stream waits only until a write has taken
   * it (at once, or when the write in flight ends); decoding then goes on into the next
   * batch while this one is written. Writes stay one at a time and in order, and memory
   * stays bounded by two batches (one being written, one full and waiting).
   * Not the tail of the write queue: a flush scheduled while the write before ran sits on
   * it and would take this very batch, so waiting for the tail waited for this batch's own
   * write and decoding and writing took turns on a backlog.
   */
  private handOff(): Promise<void> {
    const taken = new Promise<void>((resolve) => { this.takenWaiters.push(resolve) })
    // A failure reaches the caller through onFailure.
    this.flush().catch(() => {})
    return taken
  }

  /**
   * Stops taking messages (later ones wait on `gate`, which holds the socket paused),
   * then writes and acknowledges everything complete.
   */
  async close(gate: Promise<void>): Promise<void> {
    this.closed = gate
    await this.flush()
  }

  isIdle(): boolean {
    return this.txn === undefined && this.queued === 0 && this.segments.length === 1 && this.ackLsn === undefined && !this.scheduled && this.writing === 0 && this.failure === undefined
  }

  get failed(): Error | undefined {
    return this.failure
  }

  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    // setImmediate lets every message already parsed from the socket join this batch.
    setImmediate(() => {
      this.scheduled = false
      this.flush().catch(() => {})
    })
  }

  private async writePending(): Promise<void> {
    // Whatever is pending is taken now (or never, after a failure, which ends the connection).
    const waiters = this.takenWaiters
    if (waiters.length > 0) {
      this.takenWaiters = []
      for (const resolve of waiters) resolve()
    }
    if (this.failure) throw this.failure
    const segments = this.segments
    const ack = this.ackLsn
    const transactions = this.completed
    if (this.queued === 0 && segments.length === 1 && ack === undefined) return
    this.segments = [openSegment()]
    this.queued = 0
    this.ackLsn = undefined
    this.completed = 0
    const started = performance.now()
    try {
      // The history holds the stream in order: events after a gap become durable only
      // after it. Were they written first and the gap write then failed, a reconnect
      // would find them in the history and hand them to clients before the gap signal.
      let chunk: StoredEvent[] = segments.length === 1 ? segments[0]!.events : []
      for (const segment of segments) {
        if (segments.length > 1) chunk = chunk.concat(segment.events)
        if (segment.gap === undefined) continue
        await this.deps.history.append(chunk)
        chunk = []
        await this.deps.history.recordGap(segment.gap.afterLsn, segment.gap.untilLsn, segment.gap.reason)
      }
      await this.deps.history.append(chunk)
      await this.deps.ready?.()
      for (const segment of segments) {
        if (segment.events.length > 0) this.deps.publish(segment.events)
        if (segment.fence) await this.deps.fence()
        // At the truncating transaction's commit, before any later transaction: a client
        // live across it is reset exactly there.
        if (segment.gap !== undefined) this.deps.signalGap(segment.gap)
      }
      if (ack !== undefined) await this.deps.acknowledge(ack)
    } catch (err) {
      // Nothing after this point may be acknowledged on this connection: the caller
      // reconnects and the server re-sends from the last durable position.
      this.failure = err instanceof Error ? err : new Error(String(err))
      this.deps.onFailure(this.failure)
      throw this.failure
    }
    const events = segments.reduce((n, segment) => n + segment.events.length, 0)
    this.deps.onBatch?.({ events, transactions, durationMs: performance.now() - started, ackedLsn: ack })
  }
}
