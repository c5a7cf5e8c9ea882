import type { DomainRegistry } from '../domain/registry.ts'
import type { RowChange } from '../domain/types.ts'
import type { HistoryStore } from '../history/store.ts'
import { makeEvent, type StoredEvent } from '../history/event.ts'
import type { StreamHandler } from '../replication/stream.ts'

export interface BatchStats {
  readonly events: number
  readonly transactions: number
  readonly durationMs: number
  readonly ackedLsn: bigint | undefined
}

export interface BatcherDeps {
  readonly registry: DomainRegistry
  readonly history: HistoryStore
  /** Acknowledge the slot up to `lsn`: only ever called once everything before it is durable. */
  readonly acknowledge: (lsn: bigint) => Promise<void>
  /** Hands durable events on, in id order. */
  readonly publish: (events: StoredEvent[]) => void
  readonly maxBatchEvents: number
  readonly onBatch?: (stats: BatchStats) => void
  /**
   * A write failed: nothing after it may be acknowledged on this connection, so the
   * caller drops the connection and resumes from the last durable position. Called once.
   */
  readonly onFailure: (err: Error) => void
}

interface OpenTransaction {
  readonly lsn: bigint
  readonly time: Date
  seq: number
}

/**
 * Turns the stream of one replication connection into history writes: events of the
 * queued transactions are written together, the slot is acknowledged up to the last
 * transaction whose events are all durable, and only then are the events published.
 * While a write is slow the handler's promise stays pending, which pauses the socket
 * (pg-logical-replication flow control): memory stays bounded by `maxBatchEvents`.
 */
export class TransactionBatcher implements StreamHandler {
  private pending: StoredEvent[] = []
  private ackLsn: bigint | undefined
  private completed = 0
  private txn: OpenTransaction | undefined
  private tail: Promise<void> = Promise.resolve()
  private scheduled = false
  private writing = 0
  private failure: Error | undefined
  private closed: Promise<void> | undefined

  constructor(private readonly deps: BatcherDeps) {}

  begin(commitLsn: bigint, commitTime: Date): void | Promise<void> {
    if (this.closed) return this.closed
    this.txn = { lsn: commitLsn, time: commitTime, seq: 0 }
  }

  change(change: RowChange): void | Promise<void> {
    if (this.closed) return this.closed
    const txn = this.txn
    if (txn === undefined) throw new Error('row change outside a transaction')
    for (const draft of this.deps.registry.map(change)) {
      this.pending.push(makeEvent({ lsn: txn.lsn, seq: txn.seq++ }, draft, txn.time))
    }
    // A huge transaction is written in chunks; ids stay deterministic (lsn, ordinal).
    if (this.pending.length >= this.deps.maxBatchEvents) return this.handOff()
  }

  message(): void | Promise<void> {
    // Heartbeats are transactional messages: their commit is acknowledged like any other.
    if (this.closed) return this.closed
  }

  commit(_commitLsn: bigint, endLsn: bigint): void | Promise<void> {
    if (this.closed) return this.closed
    this.txn = undefined
    this.ackLsn = endLsn
    this.completed++
    if (this.pending.length >= this.deps.maxBatchEvents) return this.handOff()
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
   * A full batch starts its write, and decoding goes on into the next one meanwhile: the
   * stream waits only for the write before it. Decoding and writing overlap (on a backlog
   * they used to take turns, each idle half the time), writes stay in order, and memory
   * stays bounded by two batches.
   */
  private handOff(): Promise<void> {
    const previous = this.tail
    // A failure reaches the caller through onFailure.
    this.flush().catch(() => {})
    return previous
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
    return this.txn === undefined && this.pending.length === 0 && this.ackLsn === undefined && !this.scheduled && this.writing === 0 && this.failure === undefined
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
    if (this.failure) throw this.failure
    if (this.pending.length === 0 && this.ackLsn === undefined) return
    const events = this.pending
    const ack = this.ackLsn
    const transactions = this.completed
    this.pending = []
    this.ackLsn = undefined
    this.completed = 0
    const started = performance.now()
    try {
      await this.deps.history.append(events)
      this.deps.publish(events)
      if (ack !== undefined) await this.deps.acknowledge(ack)
    } catch (err) {
      // Nothing after this point may be acknowledged on this connection: the caller
      // reconnects and the server re-sends from the last durable position.
      this.failure = err instanceof Error ? err : new Error(String(err))
      this.deps.onFailure(this.failure)
      throw this.failure
    }
    this.deps.onBatch?.({ events: events.length, transactions, durationMs: performance.now() - started, ackedLsn: ack })
  }
}
