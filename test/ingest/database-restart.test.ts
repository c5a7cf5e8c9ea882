import t from 'tap'
import pg from 'pg'
import { loadConfig } from '../../src/config.ts'
import { startService } from '../../src/service.ts'
import { capturingLogger } from '../helpers/log.ts'
import { startOwnPostgres } from '../helpers/own-server.ts'
import { waitFor } from '../helpers/wait.ts'

t.test('I1, I3: a restarted database: walcast reconnects and loses nothing', async (t) => {
  const server = await startOwnPostgres(t)
  const { log, lines } = capturingLogger('info')
  const service = await startService(loadConfig({ DATABASE_URL: server.url, WALCAST_PORT: '0', WALCAST_STATUS_INTERVAL: '1s' }), log)
  t.teardown(() => service.stop())
  await waitFor(() => service.ingest.status().state === 'streaming')
  const published: string[] = []
  service.hub.subscribe((events) => published.push(...events.map((e) => e.data.escrowId as string)))

  const run = async (text: string): Promise<void> => {
    const client = new pg.Client({ connectionString: server.url })
    await client.connect()
    try {
      await client.query(text)
    } finally {
      await client.end()
    }
  }
  const count = async (): Promise<number> => {
    const client = new pg.Client({ connectionString: server.url })
    await client.connect()
    try {
      return (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM walcast.events')).rows[0]!.n
    } finally {
      await client.end()
    }
  }

  await run(`INSERT INTO escrows (id, title, amount, currency) SELECT g, 'before', 1, 'USD' FROM generate_series(1, 50) g`)
  await waitFor(async () => (await count()) === 50, 15_000, 'events before the restart')

  await server.stop()
  await waitFor(() => service.ingest.status().state !== 'streaming', 15_000, 'ingest notices the database is gone')
  await server.start()
  await run(`INSERT INTO escrows (id, title, amount, currency) SELECT g, 'after', 1, 'USD' FROM generate_series(51, 100) g`)
  await waitFor(async () => (await count()) === 100, 60_000, 'events after the restart')
  await waitFor(() => published.length === 100, 15_000, 'all published')
  t.same(published, Array.from({ length: 100 }, (_, i) => String(i + 1)), 'published once each, in order, across the restart')
  t.ok(lines().some((l) => l.includes('reconnecting') || l.includes('retrying')), 'the interruption was logged')
  t.notOk(lines().some((l) => l.includes('walcast') && l.includes(':walcast@')), 'no password in any log line')
})
