import { Redis } from 'ioredis'
import type { Logger } from '../log.ts'
import { redactUrl } from '../log.ts'
import { StartupError } from '../errors.ts'

export interface BusConnections {
  /** XADD and XREVRANGE: never blocks. */
  readonly writer: Redis
  /** XREAD BLOCK: a connection of its own, so a blocked read never delays an append. */
  readonly reader: Redis
  /** Both connections are up. */
  up(): boolean
  close(): Promise<void>
}

const CONNECT_TIMEOUT_MS = 5000
/** A blocked XREAD waits at most 1 s (src/bus/follower.ts); anything slower is a hung server. */
const COMMAND_TIMEOUT_MS = 5000

/**
 * Opens the bus's two Redis connections, or throws BUS_UNREACHABLE. Once open they
 * reconnect on their own forever; meanwhile commands fail at once instead of queueing
 * (no offline queue, no retries, nothing resent): the ingest must never wait on Redis,
 * and a follower notices and serves from the history instead.
 */
export async function connectBus(url: string, log: Logger): Promise<BusConnections> {
  let started = false
  // ioredis rejects connect() with "Connection is closed."; the socket's own error says why.
  let startError: Error | undefined
  const open = (name: string): Redis => {
    const client = new Redis(url, {
      lazyConnect: true,
      connectionName: `walcast-${name}`,
      connectTimeout: CONNECT_TIMEOUT_MS,
      commandTimeout: COMMAND_TIMEOUT_MS,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      // At start-up one failure is the answer; afterwards keep trying, at most every 2 s.
      retryStrategy: (times) => started ? Math.min(100 * times, 2000) : null,
    })
    let reported = false
    client.on('error', (err: Error) => {
      if (!started) startError ??= err
      // Once per outage: ioredis reports every failed reconnect.
      if (started && !reported) log.warn({ err: { message: err.message }, connection: name }, 'Redis connection failed; the bus is down until it answers again')
      reported = true
    })
    client.on('ready', () => {
      if (reported && started) log.info({ connection: name }, 'Redis connection back')
      reported = false
    })
    return client
  }
  const writer = open('writer')
  const reader = open('reader')
  try {
    await Promise.all([writer.connect(), reader.connect()])
    await writer.ping()
  } catch (err) {
    writer.disconnect()
    reader.disconnect()
    const why = startError ?? (err as Error)
    throw new StartupError('BUS_UNREACHABLE', `Redis at ${redactUrl(url)} (WALCAST_REDIS_URL) did not answer: ${why.message}`, {
      hint: 'start Redis or fix WALCAST_REDIS_URL; unset it to run a single node without Redis (docs/scaling.md)',
      cause: err,
    })
  }
  started = true
  return {
    writer,
    reader,
    up: () => writer.status === 'ready' && reader.status === 'ready',
    async close() {
      started = false
      writer.disconnect()
      reader.disconnect()
    },
  }
}
