import t from 'tap'
import { coalesceReads } from '../../src/subscription/coalesced-reads.ts'

/** A read whose answers the test releases by hand; each read answers with its start number. */
function manualRead(): { read: () => Promise<number>; started: number; release(error?: Error): void } {
  const pending: Array<{ resolve: (n: number) => void; reject: (e: Error) => void; n: number }> = []
  const state = {
    started: 0,
    read: () => new Promise<number>((resolve, reject) => { pending.push({ resolve, reject, n: ++state.started }) }),
    release(error?: Error) {
      const next = pending.shift()!
      if (error === undefined) next.resolve(next.n)
      else next.reject(error)
    },
  }
  return state
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

t.test('I4: callers share a read only if it started after they asked', async (t) => {
  const source = manualRead()
  const read = coalesceReads(source.read)
  const first = read()
  t.equal(source.started, 1, 'the first caller starts a read at once')
  // These ask while read 1 is under way: it may predate them, so they wait for read 2.
  const later = [read(), read(), read()]
  t.equal(source.started, 1, 'no second read while one is running')
  source.release()
  t.equal(await first, 1)
  await tick()
  t.equal(source.started, 2, 'the waiting callers start one read together once the first settled')
  const last = read()
  source.release()
  t.same(await Promise.all(later), [2, 2, 2], 'all three got the read that started after they asked')
  await tick()
  t.equal(source.started, 3, 'a caller that asked during read 2 gets read 3')
  source.release()
  t.equal(await last, 3)
  const alone = read()
  t.equal(source.started, 4, 'with nothing running, a caller reads at once')
  source.release()
  t.equal(await alone, 4)
})

t.test('a failed read fails its callers only; the next callers read again', async (t) => {
  const source = manualRead()
  const read = coalesceReads(source.read)
  const first = read()
  const waiting = read()
  source.release(new Error('database down'))
  await t.rejects(first, /database down/)
  await tick()
  t.equal(source.started, 2, 'the waiting caller still gets a read of its own')
  source.release(new Error('still down'))
  await t.rejects(waiting, /still down/)
  const again = read()
  source.release()
  t.equal(await again, 3)
})
