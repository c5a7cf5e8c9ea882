import t from 'tap'
import { createStopStack } from '../src/stop-stack.ts'
import { capturingLogger } from './helpers/log.ts'

t.test('stops run once, the last started first, each awaited before the next', async (t) => {
  const stops = createStopStack(capturingLogger().log)
  const order: string[] = []
  stops.push('database', () => { order.push('database') })
  stops.push('ingest', async () => {
    await new Promise((resolve) => setTimeout(resolve, 20))
    order.push('ingest')
  })
  stops.push('http', () => { order.push('http') })
  t.equal(stops.stopping, false)
  const first = stops.run()
  t.equal(stops.stopping, true, 'stopping as soon as the run began')
  t.equal(stops.run(), first, 'a second call gets the same run')
  await first
  t.same(order, ['http', 'ingest', 'database'])
  await stops.run()
  t.same(order, ['http', 'ingest', 'database'], 'nothing runs twice')
})

t.test('a stop that fails is logged with its stage; the others still run; the first failure rejects the run', async (t) => {
  const captured = capturingLogger()
  const stops = createStopStack(captured.log)
  const order: string[] = []
  stops.push('database', () => { order.push('database') })
  stops.push('bus', () => { throw new Error('redis went away') })
  stops.push('ingest', () => Promise.reject(new Error('replication connection ended')))
  await t.rejects(stops.run(), { message: 'replication connection ended' })
  t.same(order, ['database'], 'the last stage still stopped')
  const warned = captured.lines().map((line) => JSON.parse(line) as { stage: string; msg: string })
  t.same(warned.map((line) => line.stage), ['ingest', 'bus'])
  t.match(warned[0], { msg: 'a stage failed to stop; stopping the others' })
})

t.test('an empty stack stops at once', async (t) => {
  const stops = createStopStack(capturingLogger().log)
  await stops.run()
  t.equal(stops.stopping, true)
})
