import pg from 'pg'

/** Used when the server's wal_sender_timeout is 0 (disabled): twice its default of 60 s. */
const FALLBACK_TIMEOUT_MS = 120_000
/** How long reading wal_sender_timeout may take before the attempt fails (and is retried). */
const SHOW_TIMEOUT_MS = 10_000

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 }

/** A time setting as SHOW prints it (`1min`, `60s`, `500ms`, `0`), in ms; a bare number is ms. */
export function parseServerDuration(text: string): number {
  const match = /^(\d+)\s*(us|ms|s|min|h|d)?$/.exec(text.trim())
  if (!match) throw new Error(`unexpected duration from the server: ${JSON.stringify(text)}`)
  return Number(match[1]) * UNIT_MS[match[2] ?? 'ms']!
}

/**
 * The default WALCAST_REPLICATION_TIMEOUT: twice the server's wal_sender_timeout, read when
 * a connection starts (the server walcast streams from now, a failover's included). The
 * walsender ends a walcast it has not heard from for wal_sender_timeout; walcast, which
 * asks for a keepalive halfway through its own timeout, allows the server twice that.
 */
export async function defaultReplicationTimeout(connectionString: string, signal?: AbortSignal): Promise<number> {
  const client = new pg.Client({ connectionString, application_name: 'walcast', connectionTimeoutMillis: SHOW_TIMEOUT_MS, query_timeout: SHOW_TIMEOUT_MS })
  // A socket failure is also the connect's or the query's rejection.
  client.on('error', () => {})
  // Not end(): pg's connect() never settles when end() lands while it is connecting.
  const abort = (): void => { client.connection.stream.destroy() }
  signal?.addEventListener('abort', abort, { once: true })
  try {
    signal?.throwIfAborted()
    await client.connect()
    const { rows } = await client.query<{ wal_sender_timeout: string }>('SHOW wal_sender_timeout')
    const ms = parseServerDuration(rows[0]!.wal_sender_timeout)
    return ms > 0 ? 2 * ms : FALLBACK_TIMEOUT_MS
  } finally {
    signal?.removeEventListener('abort', abort)
    await client.end().catch(() => {})
  }
}

export interface SilenceWatch {
  /** Bytes arrived from the server. */
  heard(): void
  stop(): void
}

export interface SilenceWatchOptions {
  readonly timeoutMs: number
  /** True while walcast itself holds the socket paused (a write awaited): that silence is ours. */
  busy(): boolean
  /** Asks the server for an immediate reply (a status update with the reply flag). */
  ping(): void
  /** Nothing arrived for `timeoutMs`: the connection is dead although it is still open. */
  expire(): void
}

/**
 * A connection that stops delivering without closing (a dead peer or path: no FIN, no
 * RST) looks exactly like a quiet one; the kernel gives up on it only after about 15
 * minutes, if ever. Silence for half the timeout asks the server for a keepalive, which
 * it sends at once; silence for the whole timeout expires the connection.
 */
export function watchSilence(options: SilenceWatchOptions): SilenceWatch {
  let last = performance.now()
  let pinged = false
  const timer = setInterval(() => {
    const now = performance.now()
    if (options.busy()) {
      last = now
      return
    }
    const silent = now - last
    if (silent >= options.timeoutMs) {
      clearInterval(timer)
      options.expire()
    } else if (!pinged && silent >= options.timeoutMs / 2) {
      pinged = true
      options.ping()
    }
  }, Math.min(1000, Math.max(10, options.timeoutMs / 10)))
  timer.unref()
  return {
    heard() {
      last = performance.now()
      pinged = false
    },
    stop: () => clearInterval(timer),
  }
}
