/**
 * Centrifugo's feed in the benchmark: the same trigger as the Socket.IO peer turns each
 * committed released milestone into a NOTIFY; this process LISTENs and publishes each one
 * to the escrow's channel through Centrifugo's HTTP API. One batch request is in flight at
 * a time (notifications that arrive meanwhile wait for the next), so publications keep
 * commit order and batch themselves under load. Runs as a child of the benchmark driver,
 * and its CPU is counted with Centrifugo's.
 */
import pg from 'pg'
import { serveDriver } from '../../lib/child-ipc.mjs'

const databaseUrl = process.env.DATABASE_URL ?? ''
const apiUrl = process.env.CENTRIFUGO_API_URL ?? ''
const apiKey = process.env.CENTRIFUGO_API_KEY ?? ''
const MAX_BATCH = 1000

const listener = new pg.Client({ connectionString: databaseUrl, application_name: 'walcast-bench-centrifugo-feeder' })
await listener.connect()
const queue: string[] = []
let sending: Promise<void> | undefined
let stopping = false

listener.on('notification', (message) => {
  if (message.payload === undefined) return
  queue.push(message.payload)
  sending ??= flush().finally(() => { sending = undefined })
})
await listener.query('LISTEN escrow_events')

async function flush(): Promise<void> {
  while (queue.length > 0 && !stopping) {
    const batch = queue.slice(0, MAX_BATCH)
    // The payload is already the JSON the client gets; only its topic is read here.
    const commands = batch.map((payload) => `{"publish":{"channel":${JSON.stringify((JSON.parse(payload) as { topic: string }).topic)},"data":${payload}}}`)
    try {
      const res = await fetch(`${apiUrl}/batch`, { method: 'POST', headers: { 'X-API-Key': apiKey, 'Content-Type': 'application/json' }, body: `{"commands":[${commands.join(',')}]}` })
      const reply = await res.json() as { replies?: Array<{ error?: unknown }>; error?: unknown }
      if (!res.ok || reply.error !== undefined) throw new Error(`HTTP ${res.status} ${JSON.stringify(reply.error ?? reply)}`)
      const failed = (reply.replies ?? []).filter((r) => r.error !== undefined)
      if (failed.length > 0) process.stderr.write(`centrifugo feeder: ${failed.length} publications refused: ${JSON.stringify(failed[0]!.error)}\n`)
      queue.splice(0, batch.length)
    } catch (err) {
      // Not acknowledged: the same batch again, in order (the benchmark's loopback should not fail).
      process.stderr.write(`centrifugo feeder: ${err instanceof Error ? err.message : String(err)}; retrying\n`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}

serveDriver(0, async () => {
  stopping = true
  await sending
  await listener.end()
})
