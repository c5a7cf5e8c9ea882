import type { Test } from 'tap'
import { childEnv, spawnWalcast, type WalcastProcess } from './spawn.ts'
import type { TestDatabase } from './db.ts'
import { authEnv } from './tokens.ts'
import { waitFor } from './wait.ts'

export interface WalcastNode {
  readonly process: WalcastProcess
  readonly port: number
  readonly base: string
  /** GET path on this node: status and parsed JSON (or text). */
  get(path: string): Promise<{ status: number; body: unknown; text: string }>
}

/** A `walcast serve` child on the bus, with its HTTP port read from its log. */
export async function spawnNode(t: Test, tdb: Pick<TestDatabase, 'url' | 'slot' | 'publication'>, redisUrl: string, extra: Record<string, string> = {}): Promise<WalcastNode> {
  const child = spawnWalcast(['serve'], childEnv(tdb, authEnv({ WALCAST_REDIS_URL: redisUrl, WALCAST_BUS_FALLBACK_POLL: '100ms', ...extra })))
  // SIGTERM first: a node that exits on its own writes its coverage (SIGKILL loses it).
  t.teardown(async () => {
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
    await child.exited
    clearTimeout(timer)
  })
  const port = await waitFor(() => {
    const line = child.stdout().split('\n').find((l) => l.includes('"http listening"'))
    return line === undefined ? undefined : (JSON.parse(line) as { port: number }).port
  }, 60_000, 'node listening')
  const base = `http://127.0.0.1:${port}`
  return {
    process: child,
    port,
    base,
    async get(path) {
      const response = await fetch(`${base}${path}`)
      const text = await response.text()
      let body: unknown = text
      try { body = JSON.parse(text) } catch { /* text */ }
      return { status: response.status, body, text }
    },
  }
}

/** Waits until every committed notification is in the history (the ingest may lag a burst). */
export async function waitForAllIngested(tdb: Pick<TestDatabase, 'query'>, ms = 90_000): Promise<void> {
  await waitFor(async () => {
    const { rows } = await tdb.query<{ committed: number; ingested: number }>(
      `SELECT (SELECT count(*) FROM notifications)::int AS committed, (SELECT count(*) FROM walcast.events WHERE type = 'notification:new')::int AS ingested`)
    return rows[0]!.committed === rows[0]!.ingested
  }, ms, 'every committed notification in the history')
}
