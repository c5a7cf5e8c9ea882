import path from 'node:path'
import { closestName } from './edit-distance.ts'
import { ConfigError } from './errors.ts'
import { BUILTIN_CATALOGS, DEFAULT_CATALOG } from './catalog/builtin.ts'

/**
 * The only reader of process.env. Each stage receives just its slice of the result.
 * Precedence: explicit overrides > environment > defaults (see docs/operations.md).
 */
export interface DatabaseConfig {
  /** undefined: start the embedded Postgres under `embedded.dataDir`. */
  readonly url: string | undefined
  readonly poolSize: number
  /** History reads of resumes, replays and polling at once: fewer than the pool, so the rest always find a connection. */
  readonly replayReads: number
  /** How long such a read may wait for its turn before the client is told to come back later (1013). */
  readonly replayWaitMs: number
  /** Access checks (membership lookups) at once: their own turns, so a storm of them queues in walcast, not in the pool. */
  readonly accessChecks: number
  /** How long an access check may wait for its turn before the client is told to come back later (1013). */
  readonly accessCheckWaitMs: number
}

export interface EmbeddedConfig {
  readonly dataDir: string
  readonly port: number
}

export interface ReplicationConfig {
  readonly slot: string
  readonly publication: string
  /** Events buffered before the replication stream is paused for the history write. */
  readonly maxBatchEvents: number
  /** How often the durable position is reported to the server while idle. */
  readonly statusIntervalMs: number
  /** How long to wait before trying again when the slot is held by another walcast. */
  readonly takeoverRetryMs: number
  readonly heartbeatMs: number
  readonly slotRecreate: boolean
  /** Silence after which the replication connection counts as dead; undefined: 2 × the server's wal_sender_timeout. */
  readonly replicationTimeoutMs: number | undefined
}

export interface HistoryConfig {
  readonly retentionMs: number
  readonly pruneIntervalMs: number
  readonly pruneBatch: number
}

export interface HttpConfig {
  readonly host: string
  /** 0 picks a free port (tests). */
  readonly port: number
}

export interface ObservabilityConfig {
  /** Retained WAL (bytes the slot pins) above which walcast logs a warning and raises a metric. */
  readonly walWarnBytes: number
  /** How often the slot's retained WAL and lag are measured. */
  readonly walCheckIntervalMs: number
}

/** JWT verification for every transport (docs/protocol.md#authentication). */
export interface AuthConfig {
  /** HS256 shared secret (at least 32 characters). */
  readonly secret: string | undefined
  /** RS256/ES256 keys, fetched and cached from this JWKS URL. */
  readonly jwksUrl: string | undefined
  readonly issuer: string | undefined
  readonly audience: string | undefined
  readonly clockToleranceSec: number
}

/** The WebSocket gateway's limits (docs/protocol.md#limits). */
export interface GatewayConfig {
  /** A socket whose send buffer passes this many bytes is closed with 4008. */
  readonly maxBackpressure: number
  /** Largest client frame accepted; a bigger one closes the socket with 1009. */
  readonly maxPayload: number
  readonly maxSubscriptions: number
  readonly maxConnectionsPerUser: number
  /** Inbound frames per second refilled into each connection's token bucket. */
  readonly rate: number
  readonly burst: number
  /** Frames sent on an empty bucket (each answered rate_limited) before closing with 4029. */
  readonly rateTolerance: number
  /** Seconds without traffic before a socket is dropped; pings are sent automatically. */
  readonly idleTimeoutSec: number
  /** Events read from the history per page during a replay (up to four times that while the client keeps up). */
  readonly replayPage: number
}

/** The hub's window of recent events: replays and the replay→live switch read it instead of the history. */
export interface HubConfig {
  /** Most events it holds. */
  readonly windowEvents: number
  /** Most bytes (payload JSON and frame, estimated) it holds: large events leave it sooner. */
  readonly windowBytes: number
  /** Overrides the catalog's conflation interval (ms) for every conflated topic (I17); undefined: the catalog's. */
  readonly conflateMs: number | undefined
}

/** Several nodes over Redis (docs/scaling.md); unset `redisUrl`: one node, no Redis at all. */
export interface BusConfig {
  /** redis:// or rediss:// URL of the Redis that carries the bus; undefined: single node. */
  readonly redisUrl: string | undefined
  /** `all`: takes the slot when it is free and ingests; `gateway`: never ingests, only serves. */
  readonly role: 'all' | 'gateway'
  /** Redis Stream key the ingesting node appends durable batches to. */
  readonly stream: string
  /** Approximate bound on the stream's length (XADD MAXLEN ~). */
  readonly maxLen: number
  /** While Redis is unreachable, how often a following node reads new events from the history. */
  readonly fallbackPollMs: number
}

/** Ephemeral messages and presence (docs/protocol.md#ephemeral-messages-and-presence). */
export interface EphemeralConfig {
  /** How long a node's presence entries outlive its last heartbeat in Redis (a node killed with -9). */
  readonly presenceTtlMs: number
}

export interface LogConfig {
  readonly level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
}

/** SSE, polling, the dashboard and its dev sign-in (docs/client.md). */
export interface FeedConfig {
  /** A comment line on every SSE stream this often, so proxies keep it open. */
  readonly sseHeartbeatMs: number
  /** Largest page GET /v1/events returns, whatever `limit` asks. */
  readonly pollMaxLimit: number
  /** Polling requests per second per user (token bucket), and the burst allowed. */
  readonly pollRate: number
  readonly pollBurst: number
  /** WALCAST_DEV=1: the dev token endpoint outside the embedded default (never in production). */
  readonly dev: boolean
}

/** WALCAST_CATALOG: a built-in catalog by name, or the path of a catalog module (docs/catalogs.md). */
export type CatalogSelection =
  | { readonly kind: 'builtin'; readonly name: string }
  | { readonly kind: 'module'; readonly path: string }

export interface Config {
  readonly catalog: CatalogSelection
  readonly database: DatabaseConfig
  readonly embedded: EmbeddedConfig
  readonly replication: ReplicationConfig
  readonly history: HistoryConfig
  readonly http: HttpConfig
  readonly auth: AuthConfig
  readonly gateway: GatewayConfig
  readonly hub: HubConfig
  readonly log: LogConfig
  readonly observability: ObservabilityConfig
  /** true when walcast started its own Postgres: enables the demo data and writer. */
  readonly demo: boolean
  readonly feed: FeedConfig
  readonly bus: BusConfig
  readonly ephemeral: EphemeralConfig
  /** WALCAST_* variables that are set but mean nothing (a typo): walcast warns about each at start-up. */
  readonly unknownVariables: readonly UnknownVariable[]
}

export interface UnknownVariable {
  readonly name: string
  /** The known variable closest to it by edit distance. */
  readonly suggestion: string
}

type Env = Record<string, string | undefined>

const DURATION = /^(\d+)(ms|s|m|h|d)?$/
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/
const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

function read(env: Env, name: string): string | undefined {
  const value = env[name]
  return value === undefined || value.trim() === '' ? undefined : value.trim()
}

export function parseDuration(name: string, text: string): number {
  const match = DURATION.exec(text)
  if (!match) throw new ConfigError(name, `expected a duration such as 30s, 15m, 7d or a number of seconds, got ${JSON.stringify(text)}`)
  // A bare number is seconds: the unit people mean most often in an env file.
  const ms = Number(match[1]) * UNIT_MS[match[2] ?? 's']!
  if (ms <= 0) throw new ConfigError(name, 'must be greater than zero')
  return ms
}

function duration(env: Env, name: string, fallback: string): number {
  return parseDuration(name, read(env, name) ?? fallback)
}

/** A duration whose default is not known here (undefined when unset). */
function optionalDuration(env: Env, name: string): number | undefined {
  const text = read(env, name)
  return text === undefined ? undefined : parseDuration(name, text)
}

/** WALCAST_CONFLATE_INTERVAL: at most a minute, so a conflated topic never looks dead. */
function conflateInterval(env: Env): number | undefined {
  const ms = optionalDuration(env, 'WALCAST_CONFLATE_INTERVAL')
  if (ms !== undefined && ms > 60_000) throw new ConfigError('WALCAST_CONFLATE_INTERVAL', `must be at most 60s, got ${ms} ms`)
  return ms
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const text = read(env, name)
  if (text === undefined) return fallback
  if (!/^\d+$/.test(text)) throw new ConfigError(name, `expected a whole number, got ${JSON.stringify(text)}`)
  const value = Number(text)
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`)
  return value
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const text = read(env, name)?.toLowerCase()
  if (text === undefined) return fallback
  if (['1', 'true', 'yes', 'on'].includes(text)) return true
  if (['0', 'false', 'no', 'off'].includes(text)) return false
  throw new ConfigError(name, `expected true or false, got ${JSON.stringify(text)}`)
}

function identifier(env: Env, name: string, fallback: string): string {
  const value = read(env, name) ?? fallback
  if (!IDENTIFIER.test(value)) {
    throw new ConfigError(name, `must be a lower-case Postgres identifier (letters, digits, _; at most 63), got ${JSON.stringify(value)}`)
  }
  return value
}

const BYTES = /^(\d+)\s*(b|kb|mb|gb|tb|kib|mib|gib|tib)?$/i
const UNIT_BYTES: Record<string, number> = {
  b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40,
}

/** A byte count: a bare number of bytes, or with a unit (512MB, 1GiB). */
function byteSize(env: Env, name: string, fallback: string): number {
  const text = read(env, name) ?? fallback
  const match = BYTES.exec(text)
  if (!match) throw new ConfigError(name, `expected a size such as 1073741824, 512MB or 1GiB, got ${JSON.stringify(text)}`)
  const bytes = Number(match[1]) * UNIT_BYTES[(match[2] ?? 'b').toLowerCase()]!
  if (bytes <= 0 || !Number.isSafeInteger(bytes)) throw new ConfigError(name, `must be greater than zero and below 8 PiB, got ${JSON.stringify(text)}`)
  return bytes
}

function databaseUrl(env: Env): string | undefined {
  const value = read(env, 'DATABASE_URL')
  if (value === undefined) return undefined
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new ConfigError('DATABASE_URL', 'is not a URL; expected postgres://user:password@host:port/database')
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError('DATABASE_URL', `expected a postgres:// URL, got ${url.protocol}//…`)
  }
  return value
}

function databaseConfig(env: Env, url: string | undefined): DatabaseConfig {
  const poolSize = integer(env, 'WALCAST_DB_POOL', 8, 2, 100)
  return {
    url,
    poolSize,
    replayReads: integer(env, 'WALCAST_DB_REPLAY_READS', Math.max(1, poolSize - 2), 1, poolSize - 1),
    replayWaitMs: duration(env, 'WALCAST_DB_REPLAY_WAIT', '30s'),
    accessChecks: integer(env, 'WALCAST_DB_ACCESS_CHECKS', Math.min(2, poolSize - 1), 1, poolSize - 1),
    accessCheckWaitMs: duration(env, 'WALCAST_DB_ACCESS_CHECK_WAIT', '5s'),
  }
}

export function loadConfig(environment: Env = process.env, cwd: string = process.cwd()): Config {
  // The names this function reads are the known ones: a new setting needs no second list.
  const known = new Set<string>()
  const env = recordingReads(environment, known)
  const url = databaseUrl(env)
  const level = (read(env, 'WALCAST_LOG_LEVEL') ?? 'info').toLowerCase()
  if (!(LEVELS as readonly string[]).includes(level)) {
    throw new ConfigError('WALCAST_LOG_LEVEL', `expected one of ${LEVELS.join(', ')}, got ${JSON.stringify(level)}`)
  }
  const config: Omit<Config, 'unknownVariables'> = {
    catalog: catalogSelection(env, cwd),
    database: databaseConfig(env, url),
    embedded: {
      dataDir: path.resolve(cwd, read(env, 'WALCAST_DATA_DIR') ?? '.walcast/pgdata'),
      port: integer(env, 'WALCAST_EMBEDDED_PORT', 54329, 1024, 65535),
    },
    replication: {
      slot: identifier(env, 'WALCAST_SLOT', 'walcast'),
      publication: identifier(env, 'WALCAST_PUBLICATION', 'walcast'),
      maxBatchEvents: integer(env, 'WALCAST_BATCH_EVENTS', 5000, 1, 1_000_000),
      statusIntervalMs: duration(env, 'WALCAST_STATUS_INTERVAL', '10s'),
      takeoverRetryMs: duration(env, 'WALCAST_TAKEOVER_RETRY', '2s'),
      heartbeatMs: duration(env, 'WALCAST_HEARTBEAT', '30s'),
      slotRecreate: boolean(env, 'WALCAST_SLOT_RECREATE', false),
      replicationTimeoutMs: optionalDuration(env, 'WALCAST_REPLICATION_TIMEOUT'),
    },
    history: {
      retentionMs: duration(env, 'WALCAST_RETENTION', '7d'),
      pruneIntervalMs: duration(env, 'WALCAST_PRUNE_INTERVAL', '60s'),
      pruneBatch: integer(env, 'WALCAST_PRUNE_BATCH', 5000, 1, 1_000_000),
    },
    http: {
      host: read(env, 'WALCAST_HOST') ?? '127.0.0.1',
      port: integer(env, 'WALCAST_PORT', 8080, 0, 65535),
    },
    auth: authConfig(env, url === undefined),
    gateway: {
      maxBackpressure: integer(env, 'WALCAST_MAX_BACKPRESSURE', 1_048_576, 65_536, 1_073_741_824),
      maxPayload: integer(env, 'WALCAST_WS_MAX_PAYLOAD', 16_384, 1024, 1_048_576),
      maxSubscriptions: integer(env, 'WALCAST_WS_MAX_SUBSCRIPTIONS', 100, 1, 100_000),
      maxConnectionsPerUser: integer(env, 'WALCAST_WS_MAX_CONNECTIONS_PER_USER', 20, 1, 100_000),
      rate: integer(env, 'WALCAST_WS_RATE', 50, 1, 1_000_000),
      burst: integer(env, 'WALCAST_WS_BURST', 200, 1, 1_000_000),
      rateTolerance: integer(env, 'WALCAST_WS_RATE_TOLERANCE', 50, 0, 1_000_000),
      // uWS aborts the process on an idle timeout between 1 and 7 s: refuse it here.
      idleTimeoutSec: integer(env, 'WALCAST_WS_IDLE_TIMEOUT', 60, 8, 960),
      replayPage: integer(env, 'WALCAST_WS_REPLAY_PAGE', 500, 1, 100_000),
    },
    hub: {
      windowEvents: integer(env, 'WALCAST_HUB_WINDOW_EVENTS', 10_000, 1, 10_000_000),
      windowBytes: byteSize(env, 'WALCAST_HUB_WINDOW_BYTES', '16MiB'),
      conflateMs: conflateInterval(env),
    },
    log: { level: level as LogConfig['level'] },
    observability: {
      walWarnBytes: byteSize(env, 'WALCAST_WAL_WARN_BYTES', '1GiB'),
      walCheckIntervalMs: duration(env, 'WALCAST_WAL_CHECK_INTERVAL', '30s'),
    },
    demo: url === undefined,
    feed: {
      sseHeartbeatMs: duration(env, 'WALCAST_SSE_HEARTBEAT', '15s'),
      pollMaxLimit: integer(env, 'WALCAST_POLL_MAX_LIMIT', 1000, 1, 100_000),
      pollRate: integer(env, 'WALCAST_POLL_RATE', 20, 1, 100_000),
      pollBurst: integer(env, 'WALCAST_POLL_BURST', 60, 1, 100_000),
      dev: boolean(env, 'WALCAST_DEV', false),
    },
    bus: busConfig(env),
    ephemeral: { presenceTtlMs: duration(env, 'WALCAST_PRESENCE_TTL', '30s') },
  }
  return deepFreeze({ ...config, unknownVariables: unknownVariables(environment, known) })
}

/**
 * The embedded demo (no DATABASE_URL) accepts tokens signed with this published secret
 * unless a key is configured, so `npm start` can be tried with a one-line token.
 */
export const DEMO_JWT_SECRET = 'walcast-demo-secret-never-use-in-production'

function authConfig(env: Env, demo: boolean): AuthConfig {
  const secret = read(env, 'WALCAST_JWT_SECRET')
  if (secret !== undefined && secret.length < 32) {
    throw new ConfigError('WALCAST_JWT_SECRET', 'must be at least 32 characters (HS256 needs a 256-bit secret)')
  }
  const jwksUrl = read(env, 'WALCAST_JWKS_URL')
  if (jwksUrl !== undefined) {
    let url: URL | undefined
    try { url = new URL(jwksUrl) } catch { url = undefined }
    if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
      throw new ConfigError('WALCAST_JWKS_URL', `expected an http(s) URL of a JSON Web Key Set, got ${JSON.stringify(jwksUrl)}`)
    }
  }
  const tolerance = read(env, 'WALCAST_JWT_CLOCK_TOLERANCE') ?? '5s'
  return {
    secret: secret ?? (demo && jwksUrl === undefined ? DEMO_JWT_SECRET : undefined),
    jwksUrl,
    issuer: read(env, 'WALCAST_JWT_ISSUER'),
    audience: read(env, 'WALCAST_JWT_AUDIENCE'),
    clockToleranceSec: tolerance === '0' ? 0 : Math.round(parseDuration('WALCAST_JWT_CLOCK_TOLERANCE', tolerance) / 1000),
  }
}

const ROLES = ['all', 'gateway'] as const
const STREAM_KEY = /^[A-Za-z0-9:_.{}-]{1,200}$/

function busConfig(env: Env): BusConfig {
  const redisUrl = read(env, 'WALCAST_REDIS_URL')
  if (redisUrl !== undefined) {
    let url: URL | undefined
    try { url = new URL(redisUrl) } catch { url = undefined }
    if (url === undefined || (url.protocol !== 'redis:' && url.protocol !== 'rediss:')) {
      throw new ConfigError('WALCAST_REDIS_URL', 'expected a redis:// or rediss:// URL such as redis://127.0.0.1:6379')
    }
  }
  const role = (read(env, 'WALCAST_ROLE') ?? 'all').toLowerCase()
  if (!(ROLES as readonly string[]).includes(role)) {
    throw new ConfigError('WALCAST_ROLE', `expected all or gateway, got ${JSON.stringify(role)}`)
  }
  // A gateway that never ingests needs a bus to learn about new events.
  if (role === 'gateway' && redisUrl === undefined) {
    throw new ConfigError('WALCAST_ROLE', 'gateway needs WALCAST_REDIS_URL (a node that never ingests learns about new events from the bus)')
  }
  const stream = read(env, 'WALCAST_BUS_STREAM') ?? `walcast:${read(env, 'WALCAST_SLOT') ?? 'walcast'}:bus`
  if (!STREAM_KEY.test(stream)) {
    throw new ConfigError('WALCAST_BUS_STREAM', `expected a Redis key of letters, digits and : _ . - { } (at most 200), got ${JSON.stringify(stream.slice(0, 40))}`)
  }
  return {
    redisUrl,
    role: role as BusConfig['role'],
    stream,
    maxLen: integer(env, 'WALCAST_BUS_MAXLEN', 100_000, 100, 100_000_000),
    fallbackPollMs: duration(env, 'WALCAST_BUS_FALLBACK_POLL', '250ms'),
  }
}

const MODULE_PATH = /[/\\]|\.(?:[cm]?[jt]s)$/

function catalogSelection(env: Env, cwd: string): CatalogSelection {
  const value = read(env, 'WALCAST_CATALOG') ?? DEFAULT_CATALOG
  if (MODULE_PATH.test(value)) return { kind: 'module', path: path.resolve(cwd, value) }
  if (!Object.hasOwn(BUILTIN_CATALOGS, value)) {
    throw new ConfigError('WALCAST_CATALOG', `no built-in catalog is named ${JSON.stringify(value)}; expected one of ${Object.keys(BUILTIN_CATALOGS).join(', ')}, or the path of a catalog module such as ./my-catalog.ts`)
  }
  return { kind: 'builtin', name: value }
}

function recordingReads(env: Env, names: Set<string>): Env {
  return new Proxy(env, {
    get(target, name) {
      if (typeof name === 'string') names.add(name)
      return target[name as string]
    },
  })
}

/**
 * Set WALCAST_* names that were never read, each with the closest known name. Any case:
 * `walcast_slot` is as ignored as `WALCAST_SLOTS`. Names only; values may be secrets.
 */
function unknownVariables(env: Env, known: ReadonlySet<string>): UnknownVariable[] {
  return Object.keys(env)
    .filter((name) => /^WALCAST_/i.test(name) && !known.has(name))
    .sort()
    .map((name) => ({ name, suggestion: closestName(name.toUpperCase(), known)! }))
}

function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) {
    if (child !== null && typeof child === 'object') deepFreeze(child as object)
  }
  return Object.freeze(value)
}
