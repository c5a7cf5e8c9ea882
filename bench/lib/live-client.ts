/**
 * The other side of bench/profile-live.ts, in its own process so its CPU is not walcast's:
 * one WebSocket subscriber of `escrow:1`, then the writer (100-row transactions to that
 * escrow) once the driver says go; reports when every event arrived.
 * argv: databaseUrl, walcast port, events.
 */
import WebSocket from 'ws'
import { BENCH_JWT_SECRET, signToken } from './token.ts'
import { startWriter } from './writer.ts'

const [url, port, eventsArg] = process.argv.slice(2) as [string, string, string]
const events = Number(eventsArg)
const token = await signToken(BENCH_JWT_SECRET, '1')
const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws?token=${token}`)
let received = 0
let allReceived!: () => void
const all = new Promise<void>((resolve) => { allReceived = resolve })
await new Promise<void>((resolve) => {
  ws.on('open', () => ws.send(JSON.stringify({ op: 'subscribe', topic: 'escrow:1' })))
  ws.on('message', (data: Buffer) => {
    const frame = JSON.parse(data.toString()) as { op: string }
    if (frame.op === 'subscribed') resolve()
    else if (frame.op === 'event' && ++received >= events) allReceived()
  })
})
process.send!({ subscribed: true })
await new Promise((resolve) => process.once('message', resolve))
const writer = await startWriter({ url, escrows: [1], rowsPerTransaction: 100, eventsPerSecond: 0, durationMs: 300_000, maxEvents: events })
const written = await writer.done
await all
process.send!({ written: written.events, writeMs: Math.round(written.elapsedMs) })
ws.close()
setTimeout(() => process.exit(0), 100)
