import net from 'node:net'
import { LogicalReplicationService, PgoutputPlugin } from 'pg-logical-replication'
import type { Pgoutput } from 'pg-logical-replication'
import type { RowChange } from '../catalog/row-change.ts'
import { WalcastError } from '../errors.ts'
import { formatLsn, parseLsn } from '../event-id.ts'
import type { Logger } from '../log.ts'
import { defaultReplicationTimeout, watchSilence } from './liveness.ts'
import { useTextParsers } from './timestamp.ts'

/** What the replication stage hands on: whole transactions, in commit order. */
export interface StreamHandler {
  begin(commitLsn: bigint, commitTime: Date): void | Promise<void>
  change(change: RowChange): void | Promise<void>
  message(prefix: string, content: Uint8Array, lsn: bigint): void | Promise<void>
  /** A TRUNCATE inside the open transaction: `tables` qualified, as the publication lists them. */
  truncate(tables: string[]): void | Promise<void>
  /** `endLsn` is the position to acknowledge once the transaction is durable. */
  commit(commitLsn: bigint, endLsn: bigint): void | Promise<void>
  /** True when nothing handed over is still open, pending or being written. */
  isIdle(): boolean
}

export interface StreamOptions {
  connectionString: string
  slot: string
  publication: string
  statusIntervalMs: number
  /**
   * Nothing from the server for this long (no data, no keepalive, although one was asked
   * for halfway): the connection is half-open and run() fails. Undefined: twice the
   * server's wal_sender_timeout, read before each connection (liveness.ts).
   */
  timeoutMs?: number
  /** Called once the server has started streaming: the walsender now holds the slot. */
  onStart?: () => void
}

/** One replication connection. Create a new one per attempt: it holds connection state. */
export interface ReplicationStream {
  /**
   * Streams from the slot (the server starts at the greater of `startLsn` and the slot's
   * confirmed position) until stop() or a failure; rejects with the failure.
   */
  run(startLsn: bigint, handler: StreamHandler): Promise<void>
  /**
   * Reports everything up to `lsn` as durable (to the server within ACK_COALESCE_MS, and
   * before stop() closes); never called with a position not yet durable.
   */
  acknowledge(lsn: bigint): Promise<void>
  stop(): Promise<void>
}

/** The longest a durable position waits before the server hears of it (see reportSoon). */
const ACK_COALESCE_MS = 50

export function createReplicationStream(options: StreamOptions, log: Logger): ReplicationStream {
  // The connection's socket is walcast's own: every byte the server sends counts as a sign
  // of life (encrypted ones too), and a half-open connection is ended by destroying it.
  let socket: net.Socket | undefined
  let heard = (): void => {}
  const createSocket = (): net.Socket => {
    socket = new net.Socket()
    socket.on('data', () => heard())
    // pg reports socket errors through the client (and from there to 'error' below).
    socket.on('error', () => {})
    return socket
  }
  // Automatic acknowledgement acks what was *received*; walcast acks only what is durable.
  // The library's flow control is off: it awaited every message through a promise chain
  // (about a tenth of walcast's CPU per live event); the inbox below pauses the socket
  // only while the handler is really waiting. The session's time zone and date style are
  // fixed so that timestamptz values arrive in the one form timestamp.ts reads as text.
  const service = new LogicalReplicationService(
    { connectionString: options.connectionString, application_name: `walcast:${options.slot}`, stream: createSocket, options: sessionOptions(options.connectionString) },
    { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: false } },
  )
  const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [options.publication], messages: true })
  let durable = 0n
  let statusTimer: NodeJS.Timeout | undefined
  let failure: Error | undefined
  let stopped = false
  // pg's Client.connect() never settles when end() lands while it is still connecting
  // (its 'end' handler skips the callback once ending), and the library's subscribe()
  // waits on it. run() therefore also ends once stop() or the silence watch has closed
  // the connection.
  let markClosed!: () => void
  const closedSignal = new Promise<void>((resolve) => { markClosed = resolve })
  // stop() also ends reading the server's wal_sender_timeout (the default timeout).
  const closing = new AbortController()

  // From creation on, for good: the service re-emits its pg client's errors here, and an
  // 'error' with no listener (EventEmitter2 throws like Node's) would end the process.
  const fail = (err: Error): void => {
    failure ??= err
    log.debug({ err }, 'replication connection error')
    void service.stop().catch(() => {})
  }
  service.on('error', fail)

  let reported = 0n
  let reportedAt = 0
  let coalesceTimer: NodeJS.Timeout | undefined

  /** `ping`: the server answers at once with a keepalive (the silence watch asks so). */
  async function sendStatus(ping = false): Promise<void> {
    if (coalesceTimer !== undefined) clearTimeout(coalesceTimer)
    coalesceTimer = undefined
    reported = durable
    reportedAt = performance.now()
    // The library reports lsn + 1; the server expects the position itself.
    if (durable > 0n || ping) await service.acknowledge(formatLsn(durable > 0n ? durable - 1n : 0n), ping)
  }

  /**
   * At most one status update per ACK_COALESCE_MS while batches keep coming: at a few
   * thousand small transactions a second, one per batch cost walcast a socket write and
   * the walsender a wake-up each, a measurable share of both on a busy host. The slot
   * still moves within that window; stop() reports the last position before it closes.
   */
  function reportSoon(): void {
    if (coalesceTimer !== undefined) return
    const wait = ACK_COALESCE_MS - (performance.now() - reportedAt)
    if (wait <= 0) {
      void sendStatus().catch(() => {})
      return
    }
    coalesceTimer = setTimeout(() => void sendStatus().catch(() => {}), wait)
    coalesceTimer.unref()
  }

  return {
    async run(startLsn, handler) {
      durable = startLsn
      // A failure once stop() aborted the read is the abort.
      const timeoutMs = options.timeoutMs ?? await defaultReplicationTimeout(options.connectionString, closing.signal).catch((err: unknown) => {
        if (stopped) return undefined
        throw err
      })
      if (stopped || timeoutMs === undefined) return
      const inbox = createInbox(handler, () => connectionStream(service) ?? socket, (err) => fail(err instanceof Error ? err : new Error(String(err))))
      service.on('heartbeat', (lsn: string, _ts: number, shouldRespond: boolean) => {
        // A keepalive carries the position the walsender has decoded up to. When every
        // message before it has been handled and is durable, that position is safe to
        // confirm: transactions still open commit later, beyond it. Without this the slot
        // never moves past WAL of untracked tables, and a server shutdown waits forever
        // for walcast to confirm the shutdown checkpoint.
        const position = parseLsn(lsn)
        const advance = position > durable && handler.isIdle() && inbox.idle()
        if (advance) durable = position
        if (advance || shouldRespond) void sendStatus().catch(() => {})
      })
      service.on('data', (_lsn: string, msg: Pgoutput.Message) => inbox.push(msg))
      service.on('start', () => {
        // stop() may have run while the connection was still being set up.
        if (stopped) {
          void service.stop().catch(() => {})
          return
        }
        statusTimer = setInterval(() => void sendStatus().catch(() => {}), options.statusIntervalMs)
        statusTimer.unref()
        options.onStart?.()
      })
      if (stopped) return
      const silence = watchSilence({
        timeoutMs,
        busy: () => inbox.busy(),
        ping: () => void sendStatus(true).catch(() => {}),
        expire() {
          failure ??= new WalcastError('REPLICATION_FAILED', `nothing from the server for ${timeoutMs} ms (WALCAST_REPLICATION_TIMEOUT): the replication connection is half-open; dropping it`)
          // Not a graceful end(): that waits for a FIN the peer will never send.
          socket?.destroy()
          void service.stop().catch(() => {}).finally(markClosed)
        },
      })
      heard = () => silence.heard()
      const subscribed = service.subscribe(plugin, options.slot, formatLsn(startLsn))
      // A failure after stop() is the closing connection; 'error' already recorded others.
      subscribed.catch(() => {})
      try {
        await Promise.race([subscribed, closedSignal])
      } catch (err) {
        failure ??= err as Error
      } finally {
        silence.stop()
        if (statusTimer !== undefined) clearInterval(statusTimer)
      }
      if (failure !== undefined) throw failure
    },
    async acknowledge(lsn) {
      if (lsn <= durable) return
      durable = lsn
      reportSoon()
    },
    async stop() {
      stopped = true
      closing.abort()
      if (statusTimer !== undefined) clearInterval(statusTimer)
      // Everything acknowledged so far reaches the server before the connection closes.
      if (durable > reported) await sendStatus().catch(() => {})
      if (coalesceTimer !== undefined) clearTimeout(coalesceTimer)
      try {
        await service.stop()
      } finally {
        markClosed()
      }
    },
  }
}

/**
 * The replication session's settings: the connection string's own `options` (pg would
 * otherwise drop them for ours), then the time zone and date style timestamp.ts reads.
 */
export function sessionOptions(connectionString: string): string {
  let own: string | null = null
  try {
    own = new URL(connectionString).searchParams.get('options')
  } catch {
    // Not a URL: pg reads no options from it either.
  }
  const ours = '-c TimeZone=UTC -c DateStyle=ISO'
  return own === null || own.trim() === '' ? ours : `${own} ${ours}`
}

interface Inbox {
  push(msg: Pgoutput.Message): void
  /** Nothing received is still waiting to be handled. */
  idle(): boolean
  /** The handler is waiting (a batch write) and the socket is paused meanwhile. */
  busy(): boolean
}

/**
 * Hands each decoded message to the handler in arrival order, synchronously while the
 * handler returns nothing. When it returns a promise (a full batch waiting for the write
 * before it, a stop in progress), the socket pauses and later messages wait here until it
 * settles: what waits is bounded by what was already read from the socket, and no
 * message overtakes another. Acknowledgement is not this stage's: the batcher acknowledges
 * a position only once its events are durable. A handler that throws or rejects fails the
 * connection (`fail`), and nothing after it is handled.
 */
function createInbox(handler: StreamHandler, stream: () => { pause(): unknown; resume(): unknown } | undefined, fail: (err: unknown) => void): Inbox {
  const queue: Pgoutput.Message[] = []
  let waiting = false
  let failed = false

  function handle(msg: Pgoutput.Message): void | Promise<void> {
    try {
      return dispatch(msg, handler)
    } catch (err) {
      failed = true
      fail(err)
      return undefined
    }
  }

  function wait(pending: Promise<void>): void {
    if (!waiting) {
      waiting = true
      stream()?.pause()
    }
    pending.then(drain, (err: unknown) => {
      failed = true
      fail(err)
    })
  }

  function drain(): void {
    while (queue.length > 0 && !failed) {
      const pending = handle(queue.shift()!)
      if (pending !== undefined) return wait(pending)
    }
    waiting = false
    if (!failed) stream()?.resume()
  }

  return {
    push(msg) {
      if (failed) return
      if (waiting) {
        queue.push(msg)
        return
      }
      const pending = handle(msg)
      if (pending !== undefined) wait(pending)
    },
    idle: () => !waiting && queue.length === 0,
    busy: () => waiting,
  }
}

/**
 * The stream pg reads the connection from: our socket, or the TLS socket over it. Paused,
 * it stops pg's parsing (the library's own flow control pauses the same one). If a future
 * version renames the field, the caller falls back to the raw socket.
 */
function connectionStream(service: LogicalReplicationService): { pause(): unknown; resume(): unknown } | undefined {
  return (service as unknown as { _connection?: { stream?: { pause(): unknown; resume(): unknown } } })._connection?.stream
}

function dispatch(msg: Pgoutput.Message, handler: StreamHandler): void | Promise<void> {
  switch (msg.tag) {
    case 'begin':
      return handler.begin(parseLsn(msg.commitLsn!), new Date(Number(BigInt(msg.commitTime as bigint) / 1000n)))
    case 'insert':
      return handler.change({ kind: 'insert', table: qualified(msg.relation), old: null, new: msg.new })
    case 'update':
      return handler.change({ kind: 'update', table: qualified(msg.relation), old: msg.old, new: msg.new })
    case 'delete':
      return handler.change({ kind: 'delete', table: qualified(msg.relation), old: msg.old ?? msg.key, new: null })
    case 'truncate':
      // No row change describes the rows a TRUNCATE removes: the handler records a gap.
      // pgoutput lists only the published tables it emptied (a CASCADE included).
      return handler.truncate(msg.relations.map((r) => `${r.schema}.${r.name}`))
    case 'message':
      return handler.message(msg.prefix, msg.content, msg.messageLsn === null ? 0n : parseLsn(msg.messageLsn))
    case 'commit':
      return handler.commit(parseLsn(msg.commitLsn!), parseLsn(msg.commitEndLsn!))
    case 'relation':
      // Sent before the first row of a table in each session and after its schema changes.
      return useTextParsers(msg)
    default:
      // type and origin messages only feed the decoder's caches.
      return
  }
}

// The decoder keeps one relation object per table until its schema changes: its qualified
// name is built once, not per row (a new string per row, hashed again by every lookup).
const qualifiedNames = new WeakMap<Pgoutput.MessageRelation, string>()

// Rows come table by table (a transaction's rows mostly share one): the last relation's
// name is at hand without the WeakMap's lookup.
let lastRelation: Pgoutput.MessageRelation | undefined
let lastQualified = ''

function qualified(relation: Pgoutput.MessageRelation): string {
  if (relation === lastRelation) return lastQualified
  let name = qualifiedNames.get(relation)
  if (name === undefined) {
    name = `${relation.schema}.${relation.name}`
    qualifiedNames.set(relation, name)
  }
  lastRelation = relation
  lastQualified = name
  return name
}
