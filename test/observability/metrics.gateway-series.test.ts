import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { startTestService } from '../helpers/service.ts'
import { adminToken, authEnv, tamperSignature } from '../helpers/tokens.ts'
import { connectWs } from '../helpers/ws-client.ts'
import { waitFor } from '../helpers/wait.ts'

function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

t.test('/metrics reads the running gateway: connections, subscriptions, messages, bytes, auth failures', async (t) => {
  const tdb = await createTestDatabase(t)
  const service = await startTestService(t, tdb, authEnv())
  const port = service.http.port
  const scrape = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text()

  const token = await adminToken()
  const client = await connectWs(t, port, token)
  const subscribed = await client.subscribeAndWait('admin:disputes')
  t.equal(subscribed.op, 'subscribed')
  const forged = await connectWs(t, port, tamperSignature(token))
  t.equal((await forged.closed).code, 4401, 'a forged token is refused')

  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'A')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (1, 'T', 1, 'USD')`)
  await tdb.query(`INSERT INTO disputes (escrow_id, filed_by, reason) VALUES (1, 1, 'late')`)
  await client.next((f) => f.op === 'event', 20_000)

  const text = await waitFor(async () => {
    const m = await scrape()
    return value(m, 'walcast_gateway_messages_sent_total')! >= 1 ? m : undefined
  }, 10_000, 'gateway counters')
  t.equal(value(text, 'walcast_gateway_connections'), 1)
  t.equal(value(text, 'walcast_gateway_subscriptions'), 1)
  t.ok(value(text, 'walcast_gateway_bytes_sent_total')! > 0)
  t.equal(value(text, 'walcast_gateway_auth_failures_total'), 1)
  t.equal(value(text, 'walcast_gateway_slow_consumer_closes_total'), 0)

  await client.close()
  await waitFor(async () => value(await scrape(), 'walcast_gateway_connections') === 0, 10_000, 'connection gauge back to 0')
  t.pass('the connection gauge follows the close')
})
