import { execFile } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import type { Test } from 'tap'
import { freePort } from './own-server.ts'

const run = promisify(execFile)

/** Where Debian installs the server binaries of `major` (postgresql-<major>). */
export function debianPostgresBin(major: number): string {
  return `/usr/lib/postgresql/${major}/bin`
}

export async function hasDebianPostgres(major: number): Promise<boolean> {
  return fs.access(path.join(debianPostgresBin(major), 'pg_ctl')).then(() => true, () => false)
}

/**
 * Another server version for compatibility tests: Debian's binaries, run as the postgres
 * user (initdb refuses root), trust authentication on loopback only. Removed at teardown.
 */
export async function startDebianPostgres(t: Test, major: number, settings: string[] = ['wal_level=logical']): Promise<{ url: string }> {
  const bin = debianPostgresBin(major)
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `walcast-pg${major}-`))
  await run('chown', ['postgres:postgres', dir])
  const asPostgres = (command: string, args: string[]) => run('runuser', ['-u', 'postgres', '--', path.join(bin, command), ...args])
  await asPostgres('initdb', ['-D', dir, '-U', 'postgres', '-A', 'trust', '--no-sync'])
  const port = await freePort()
  const flags = ['-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`, '-c', 'fsync=off', ...settings.flatMap((s) => ['-c', s])]
  await asPostgres('pg_ctl', ['-D', dir, '-l', path.join(dir, 'server.log'), '-w', '-t', '60', '-o', flags.join(' '), 'start'])
  t.teardown(async () => {
    await asPostgres('pg_ctl', ['-D', dir, '-m', 'immediate', '-w', 'stop']).catch(() => {})
    await fs.rm(dir, { recursive: true, force: true })
  })
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres` }
}
