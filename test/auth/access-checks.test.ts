import t from 'tap'
import { AccessChecksOverloadedError, createAccessGate } from '../../src/auth/access-checks.ts'
import { isOverloaded } from '../../src/subscription/read-gate.ts'

t.test('an access check that waited maxWaitMs for its turn is refused with ACCESS_CHECKS_OVERLOADED, an overload; the one running is not cut short', async (t) => {
  const gate = createAccessGate({ concurrency: 1, maxWaitMs: 30 })
  let finish: () => void = () => {}
  const running = gate.run(() => new Promise<string>((resolve) => { finish = () => resolve('member') }))
  const err = await gate.run(async () => 'never').then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof AccessChecksOverloadedError, 'its own error')
  t.equal((err as AccessChecksOverloadedError).code, 'ACCESS_CHECKS_OVERLOADED')
  t.ok(isOverloaded(err), 'which the transports answer as overload (1013, 503 `overloaded`)')
  t.match((err as Error).message, /waited 30 ms/)
  t.same(gate.stats(), { running: 1, waiting: 0, shed: 1 })
  finish()
  t.equal(await running, 'member')
  t.equal(await gate.run(async () => 'next'), 'next', 'the next check runs at once')
})
