import t from 'tap'
import { Registry } from 'prom-client'
import { createTestDatabase } from '../helpers/db.ts'
import { waitPublished } from '../helpers/escrow-fixture.ts'
import { startTestService } from '../helpers/service.ts'
import { waitFor } from '../helpers/wait.ts'
import { registerGatewayMetrics, type GatewayStats } from '../../src/observability/gateway-metrics.ts'

async function scrape(port: number): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`)
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() }
}

/** The value of one sample line, e.g. `walcast_history_rows` or `x{type="a"}`. */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

t.test('/metrics exposes each ingest and database series after traffic', async (t) => {
  const tdb = await createTestDatabase(t)
  const service = await startTestService(t, tdb, { WALCAST_RETENTION: '1s', WALCAST_PRUNE_INTERVAL: '1s' })
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'A')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (1, 'T', 1, 'USD'), (2, 'U', 2, 'USD')`)
  await tdb.query(`UPDATE escrows SET status = 'funded' WHERE id = 1`)
  await tdb.query(`INSERT INTO notifications (user_id, kind, title) VALUES (1, 'k', 't')`)
  // Published, not only durable: the ingested and commit-to-publish series count at the
  // hub's publish, which follows the append a moment later.
  await waitPublished(service, tdb, 4)

  const first = await scrape(service.http.port)
  t.equal(first.status, 200)
  t.match(first.type, /^text\/plain; version=0\.0\.4/)
  const text = first.text
  t.equal(value(text, 'walcast_events_ingested_total{type="escrow:status_changed"}'), 3, 'events ingested, by type')
  t.equal(value(text, 'walcast_events_ingested_total{type="notification:new"}'), 1)
  t.ok(value(text, 'walcast_ingest_batch_duration_seconds_count')! >= 1, 'batch latency histogram')
  t.ok(value(text, 'walcast_ingest_batch_events_sum')! >= 4, 'events per batch')
  t.equal(value(text, 'walcast_commit_to_publish_seconds_count'), 4, 'commit-to-publish latency per event')
  t.ok(value(text, 'walcast_commit_to_publish_seconds_sum')! >= 0)
  t.ok(value(text, `walcast_replication_lag_bytes{slot="${tdb.slot}"}`)! >= 0, 'lag bytes')
  t.ok(value(text, `walcast_replication_lag_seconds{slot="${tdb.slot}"}`)! >= 0, 'lag seconds')
  t.ok(value(text, `walcast_slot_retained_wal_bytes{slot="${tdb.slot}"}`)! > 0, 'retained WAL')
  t.equal(value(text, 'walcast_slot_retained_wal_over_threshold'), 0)
  t.equal(value(text, 'walcast_slot_retained_wal_warn_bytes'), 2 ** 30, 'default threshold 1 GiB')
  t.equal(value(text, 'walcast_replication_streaming'), 1)
  t.equal(value(text, 'walcast_database_up'), 1)
  t.ok(value(text, 'walcast_history_bytes')! > 0, 'history size')
  for (const q of ['0.5', '0.99', '1']) t.ok(value(text, `walcast_event_loop_delay_seconds{quantile="${q}"}`)! >= 0, `event-loop delay ${q}`)
  for (const name of ['connections', 'subscriptions', 'messages_sent_total', 'bytes_sent_total', 'slow_consumer_closes_total', 'auth_failures_total', 'replay_requests_total', 'replayed_events_total', 'resets_total']) {
    t.equal(value(text, `walcast_gateway_${name}`), 0, `gateway ${name} is exposed (no client yet)`)
  }

  // Retention of 1 s: the pruner deletes the events and counts them.
  const pruned = await waitFor(async () => {
    const m = (await scrape(service.http.port)).text
    return value(m, 'walcast_history_pruned_events_total')! >= 4 && value(m, 'walcast_history_rows') === 0 ? m : undefined
  }, 20_000, 'prune metrics')
  t.ok(value(pruned, 'walcast_history_prune_runs_total')! >= 1, 'prune runs')
  t.equal(value(pruned, 'walcast_history_pruned_events_total'), 4, 'each pruned event counted once')
})

t.test('/metrics keeps answering when the database is gone, and says so', async (t) => {
  const tdb = await createTestDatabase(t)
  const service = await startTestService(t, tdb)
  await service.database.close()
  const { status, text } = await scrape(service.http.port)
  t.equal(status, 200)
  t.equal(value(text, 'walcast_database_up'), 0)
  t.equal(value(text, `walcast_slot_retained_wal_bytes{slot="${tdb.slot}"}`), undefined, 'series that need the database are left out, not made up')
})

t.test('gateway series read the injected stats', async (t) => {
  const registry = new Registry()
  let stats: GatewayStats | undefined = {
    connections: 3, subscriptions: 7, messagesSent: 120, bytesSent: 4096,
    slowConsumerCloses: 1, authFailures: 2, replayRequests: 5, replayEvents: 40, resets: 6,
  }
  registerGatewayMetrics(registry, () => stats)
  const text = await registry.metrics()
  t.equal(value(text, 'walcast_gateway_connections'), 3)
  t.equal(value(text, 'walcast_gateway_subscriptions'), 7)
  t.equal(value(text, 'walcast_gateway_messages_sent_total'), 120)
  t.equal(value(text, 'walcast_gateway_bytes_sent_total'), 4096)
  t.equal(value(text, 'walcast_gateway_slow_consumer_closes_total'), 1)
  t.equal(value(text, 'walcast_gateway_auth_failures_total'), 2)
  t.equal(value(text, 'walcast_gateway_replay_requests_total'), 5)
  t.equal(value(text, 'walcast_gateway_replayed_events_total'), 40)
  t.equal(value(text, 'walcast_gateway_resets_total'), 6)
  t.match(text, /# TYPE walcast_gateway_bytes_sent_total counter/)
  stats = { ...stats, messagesSent: 121 }
  t.equal(value(await registry.metrics(), 'walcast_gateway_messages_sent_total'), 121, 'totals follow the gateway, never double-counted')
  stats = undefined
  t.equal(value(await registry.metrics(), 'walcast_gateway_connections'), 0)
})
