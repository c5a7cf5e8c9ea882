import t from 'tap'
import WebSocket from 'ws'
import { createTestDatabase } from '../helpers/db.ts'
import { childEnv, spawnWalcast } from '../helpers/spawn.ts'
import { TEST_JWT_SECRET, signToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'

const CONNECTIONS = 1000
const BATCH = 100

interface Outcome { subscribed: boolean; close?: number }

/** Opens a socket, subscribes to user:<sub> at once (before any answer) and waits for `subscribed`. */
function subscribeOnce(port: number, token: string, topic: string): Promise<Outcome & { ws: WebSocket }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws?token=${encodeURIComponent(token)}`)
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ ws, subscribed: false }), 30_000)
    ws.on('error', () => {})
    ws.on('open', () => ws.send(JSON.stringify({ op: 'subscribe', topic })))
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { op: string; topic?: string }
      if (frame.op === 'subscribed' && frame.topic === topic) {
        clearTimeout(timer)
        resolve({ ws, subscribed: true })
      }
    })
    ws.on('close', (code) => {
      clearTimeout(timer)
      resolve({ ws, subscribed: false, close: code })
    })
  })
}

// uWebSockets.js 20.30 printed "writes must be made from within a corked callback" on
// stderr for every upgrade done after an await: 2,000 lines for 1,000 sockets.
t.test('1,000 WebSocket clients and a refused token: every line walcast prints is JSON', async (t) => {
  const tdb = await createTestDatabase(t)
  const walcast = spawnWalcast(['serve'], childEnv(tdb, { WALCAST_JWT_SECRET: TEST_JWT_SECRET, WALCAST_WS_MAX_CONNECTIONS_PER_USER: '2' }))
  t.teardown(() => { if (walcast.child.exitCode === null) walcast.kill('SIGKILL') })
  const port = await waitFor(() => {
    const line = walcast.stdout().split('\n').find((l) => l.includes('"http listening"'))
    return line === undefined ? undefined : (JSON.parse(line) as { port: number }).port
  }, 60_000, 'walcast serve to listen')

  const sockets: WebSocket[] = []
  let subscribed = 0
  for (let start = 0; start < CONNECTIONS; start += BATCH) {
    const batch = await Promise.all(Array.from({ length: BATCH }, async (_, i) => {
      const user = String(start + i + 1)
      return subscribeOnce(port, await signToken(user), `user:${user}`)
    }))
    for (const outcome of batch) {
      sockets.push(outcome.ws)
      if (outcome.subscribed) subscribed++
    }
  }
  t.equal(subscribed, CONNECTIONS, 'every socket opened, was admitted and got its subscribed frame')

  // The unhappy paths print nothing either: a refused token and one connection too many.
  const refused = await subscribeOnce(port, await signToken('1', { secret: 'some-other-secret-some-other-secret' }), 'user:1')
  t.same([refused.subscribed, refused.close], [false, 4401], 'a refused token closes with 4401')
  const second = await subscribeOnce(port, await signToken('1'), 'user:1')
  t.ok(second.subscribed, 'a second connection for user 1')
  const third = await subscribeOnce(port, await signToken('1'), 'user:1')
  t.same([third.subscribed, third.close], [false, 4030], 'a third one is over the limit: 4030')
  sockets.push(second.ws)

  for (const ws of sockets) ws.terminate()
  walcast.kill('SIGTERM')
  t.equal(await walcast.exited, 0, 'a clean exit')

  for (const [stream, text] of [['stdout', walcast.stdout()], ['stderr', walcast.stderr()]] as const) {
    const lines = text.split('\n').filter((l) => l !== '')
    const notJson = lines.filter((l) => {
      try { return typeof JSON.parse(l) !== 'object' } catch { return true }
    })
    t.same(notJson.slice(0, 5), [], `${stream}: every one of its ${lines.length} lines is a JSON object`)
  }
  t.ok(walcast.stdout().split('\n').length > 5, 'walcast did log (pino JSON on stdout)')
})
