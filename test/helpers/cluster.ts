import type { Test } from 'tap'
import { childEnv, spawnWalcast, type WalcastProcess } from './spawn.ts'
import { createTestDatabase, type TestDatabase } from './db.ts'
import { startTestRedis, type TestRedis } from './redis.ts'
import { historyRows, waitForHistory } from './service.ts'
import type { Watcher } from './watcher.ts'
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

/**
 * Waits until `node` has published `id` (its head, as a `limit=0` poll answers it). A seed's
 * id comes from the history, not from a node: a node whose hub has not reached it yet (the
 * ingesting node publishes a moment after the commit shows, a follower after the bus entry
 * reaches it) answers a resume from it with reset `unknown_position`.
 */
export async function waitForNodeHead(node: Pick<WalcastNode, 'base'>, token: string, topic: string, id: string): Promise<void> {
  await waitFor(async () => {
    const response = await fetch(`${node.base}/v1/events?topic=${encodeURIComponent(topic)}&limit=0`, { headers: { authorization: `Bearer ${token}` } })
    return response.status === 200 && ((await response.json()) as { next: string }).next >= id
  }, 30_000, `${node.base} to publish ${id}`)
}

/** Waits until every committed notification is in the history (the ingest may lag a burst). */
export async function waitForAllIngested(tdb: Pick<TestDatabase, 'query'>, ms = 90_000): Promise<void> {
  await waitFor(async () => {
    const { rows } = await tdb.query<{ committed: number; ingested: number }>(
      `SELECT (SELECT count(*) FROM notifications)::int AS committed, (SELECT count(*) FROM walcast.events WHERE type = 'notification:new')::int AS ingested`)
    return rows[0]!.committed === rows[0]!.ingested
  }, ms, 'every committed notification in the history')
}

/** The start of every bus test: a test database with user 1, a Redis, and node A ingesting. */
export async function startIngestingNode(t: Test): Promise<{ tdb: TestDatabase; redis: TestRedis; a: WalcastNode }> {
  const tdb = await createTestDatabase(t)
  const redis = await startTestRedis(t)
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'u')`)
  const a = await spawnNode(t, tdb, redis.url)
  await waitFor(() => a.process.stdout().includes('replication streaming'), 60_000, 'A ingesting')
  return { tdb, redis, a }
}

/** Commits the notification clients resume after (`since`), and returns its event id once it is in the history. */
export async function seedNotification(tdb: Pick<TestDatabase, 'query'>): Promise<string> {
  await tdb.query(`INSERT INTO notifications (user_id, kind, title) VALUES (1, 'seed', 's')`)
  const [seed] = await waitForHistory(tdb, 1)
  return seed!.id
}

/**
 * The bus tests' verdict, after every committed row is ingested: each watcher holds the
 * history's events after `since`, each once and in order, and no reset or error.
 * Returns those ids.
 */
export async function expectEveryEventOnce(t: Test, tdb: Pick<TestDatabase, 'query'>, watchers: readonly Watcher[], since: string, atLeast: number): Promise<string[]> {
  const expected = (await historyRows(tdb)).map((r) => r.id).filter((id) => id > since)
  t.ok(expected.length >= atLeast, `a burst of ${expected.length} events`)
  await waitFor(() => watchers.every((w) => w.ids().length >= expected.length), 90_000, 'every client caught up')
  for (const [i, w] of watchers.entries()) {
    t.same(w.ids(), expected, `client ${i}: every event once, in order`)
    t.same(w.others(), [], `client ${i}: no reset, no error`)
  }
  return expected
}
