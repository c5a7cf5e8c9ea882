import { spawn } from 'node:child_process'
import fs from 'node:fs'
import pg from 'pg'
import { firstExecutable, onPath } from '../lib/processes.ts'

/**
 * The decoding floor (#15 item 2): PostgreSQL's own `pg_recvlogical` drains the same
 * pgoutput backlog as walcast from a second slot, writing the raw stream to /dev/null.
 * No mapping, no history write, no acknowledgement wait: what the walsender and the
 * protocol alone cost. Debian's client binaries (postgresql-client-15) speak to the
 * embedded PG 18.
 */
export function findRecvlogical(env: NodeJS.ProcessEnv = process.env): string | undefined {
  let debian: string[] = []
  try {
    // Newest Debian server version first.
    debian = fs.readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a)).map((version) => `/usr/lib/postgresql/${version}/bin/pg_recvlogical`)
  } catch {
    // No Debian PostgreSQL packages.
  }
  return firstExecutable([env.PG_RECVLOGICAL, ...onPath('pg_recvlogical', env.PATH), ...debian])
}

export interface FloorSlot {
  readonly name: string
  /** Drains the slot up to `endLsn` (the backlog's end) and times it. */
  drain(endLsn: string): Promise<{ seconds: number }>
  drop(): Promise<void>
}

/** Creates the floor's slot now, before the backlog is written, so it sees the same changes. */
export async function createFloorSlot(binary: string, url: string, name: string, publication: string): Promise<FloorSlot> {
  const admin = async <T extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<pg.QueryResult<T>> => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      return await client.query<T>(text, values)
    } finally {
      await client.end()
    }
  }
  await admin(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [name])
  return {
    name,
    async drain(endLsn) {
      const started = performance.now()
      const child = spawn(binary, ['-d', url, '--slot', name, '--start', '-E', endLsn, '-f', '/dev/null', '-o', 'proto_version=1', '-o', `publication_names=${publication}`, '--no-loop'], { stdio: ['ignore', 'ignore', 'pipe'] })
      let stderr = ''
      child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
      const timer = setTimeout(() => child.kill('SIGKILL'), 300_000)
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
      clearTimeout(timer)
      if (code !== 0) throw new Error(`pg_recvlogical exited with ${code}: ${stderr.trim()}`)
      return { seconds: (performance.now() - started) / 1000 }
    },
    async drop() {
      await admin('SELECT pg_drop_replication_slot($1)', [name])
    },
  }
}
