/**
 * The client side of bench/profile-replay.ts, in its own process so its CPU is its own:
 * one WebSocket, one subscription from `since`, until `expected` events arrived. Modes:
 * `parse` parses every message and checks the ids rise (what any correct client must do),
 * `count` only counts event frames in the raw bytes (the socket's floor). The driver sends
 * a job as an IPC message; the reply holds the timings and this process's CPU for the job.
 */
import WebSocket from 'ws'

interface Job {
  readonly url: string
  readonly token: string
  readonly topic: string
  readonly since: string
  readonly expected: number
  readonly mode: 'parse' | 'count'
  readonly batch: boolean
}

const EVENT = Buffer.from('{"op":"event"')

process.on('message', (job: Job) => void run(job).then((reply) => process.send!(reply)))

async function run(job: Job): Promise<Record<string, number>> {
  const cpu0 = process.cpuUsage()
  const started = performance.now()
  let first = 0
  let received = 0
  let disorder = 0
  let messages = 0
  let last = ''
  const ws = new WebSocket(`${job.url}?token=${encodeURIComponent(job.token)}`, { perMessageDeflate: false })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out at ${received} of ${job.expected}`)), 120_000)
    const done = (): void => { clearTimeout(timer); resolve() }
    ws.on('open', () => ws.send(JSON.stringify({ op: 'subscribe', topic: job.topic, since: job.since, batch: job.batch })))
    ws.on('error', reject)
    ws.on('message', (data: Buffer) => {
      messages++
      if (job.mode === 'count') {
        for (let at = data.indexOf(EVENT); at >= 0; at = data.indexOf(EVENT, at + EVENT.length)) received++
      } else {
        const frame = JSON.parse(data.toString()) as { op: string; id?: string; events?: Array<{ id: string }> }
        const events = frame.op === 'event' ? [frame as { id: string }] : frame.op === 'events' ? frame.events! : []
        for (const event of events) {
          if (event.id <= last) disorder++
          last = event.id
          received++
        }
      }
      if (first === 0 && received > 0) first = performance.now()
      if (received >= job.expected) done()
    })
  })
  const all = performance.now()
  const cpu = process.cpuUsage(cpu0)
  ws.close()
  return { received, disorder, messages, firstMs: first - started, allMs: all - started, cpuUserUs: cpu.user, cpuSystemUs: cpu.system }
}
