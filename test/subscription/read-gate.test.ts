import t from 'tap'
import { createReadGate, isOverloaded, ReadsOverloadedError } from '../../src/subscription/read-gate.ts'
import { sleep } from '../helpers/wait.ts'

/** A read that finishes when the test says so. */
function heldRead<T>(value: T): { read: () => Promise<T>; started: () => boolean; finish: () => void } {
  let started = false
  let finish: () => void = () => {}
  const done = new Promise<void>((resolve) => { finish = resolve })
  return { read: async () => { started = true; await done; return value }, started: () => started, finish: () => finish() }
}

t.test('at most `concurrency` reads run at once; the rest start first come, first served', async (t) => {
  const gate = createReadGate({ concurrency: 2, maxWaitMs: 10_000 })
  const reads = Array.from({ length: 5 }, (_, i) => heldRead(i))
  const order: number[] = []
  const results = reads.map((r, i) => gate.run(() => { order.push(i); return r.read() }))
  t.same(reads.map((r) => r.started()), [true, true, false, false, false], 'two run, three wait')
  t.same(gate.stats(), { running: 2, waiting: 3, shed: 0 })
  reads[1]!.finish()
  await results[1]
  t.same(reads.map((r) => r.started()), [true, true, true, false, false], 'a finished read lets the oldest waiter in')
  // A new read queues behind the waiters even when a slot is about to free up.
  const late = heldRead(9)
  const lateResult = gate.run(late.read)
  reads[0]!.finish()
  reads[2]!.finish()
  await Promise.all([results[0], results[2]])
  t.equal(late.started(), false, 'the late read waits behind the older ones')
  for (const r of reads) r.finish()
  late.finish()
  t.same(await Promise.all([...results, lateResult]), [0, 1, 2, 3, 4, 9], 'every read gets its own answer')
  t.same(order, [0, 1, 2, 3, 4], 'started in arrival order')
  t.same(gate.stats(), { running: 0, waiting: 0, shed: 0 })
})

t.test('a read that waited maxWaitMs without starting is refused with READS_OVERLOADED; one already running is not', async (t) => {
  const gate = createReadGate({ concurrency: 1, maxWaitMs: 50 })
  const running = heldRead('slow')
  const first = gate.run(running.read)
  const queued = gate.run(async () => 'never')
  const err = await queued.then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof ReadsOverloadedError && isOverloaded(err), 'refused as overloaded')
  t.equal((err as ReadsOverloadedError).code, 'READS_OVERLOADED')
  t.match((err as Error).message, /waited 50 ms/)
  t.notOk(isOverloaded(new Error('connection refused')), 'a database failure is no overload')
  t.same(gate.stats(), { running: 1, waiting: 0, shed: 1 })
  await sleep(60)
  running.finish()
  t.equal(await first, 'slow', 'the running read was never cut short')
  t.equal(await gate.run(async () => 'next'), 'next', 'and the gate serves the next at once')
})

t.test('a failing read frees its turn and rejects with its own error', async (t) => {
  const gate = createReadGate({ concurrency: 1, maxWaitMs: 1_000 })
  const failing = gate.run(async () => { throw new Error('boom') })
  const after = gate.run(async () => 'ok')
  await t.rejects(failing, /boom/)
  t.equal(await after, 'ok')
  t.same(gate.stats(), { running: 0, waiting: 0, shed: 0 })
})
