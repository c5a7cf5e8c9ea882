import t from 'tap'
import type { CatalogRegistry } from '../../src/catalog/registry.ts'
import type { StoredEvent } from '../../src/history/event.ts'
import type { HistoryStore } from '../../src/history/store.ts'
import { TransactionBatcher } from '../../src/ingest/batcher.ts'
import { waitFor } from '../helpers/wait.ts'

// How far decoding may run ahead of the history writes on a backlog, against a history
// whose appends finish only when the test says so (the real-Postgres drain is measured by
// bench/profile-live.ts --drain; durability with Postgres by the other test/ingest files).

const registry: CatalogRegistry = {
  tables: ['public.tracked'],
  fullIdentityTables: [],
  map: (change) => [{ type: 'row', topics: ['t'], data: { n: change.new!.n } }],
}

interface Append {
  readonly events: readonly number[]
  finish(): void
}

function harness(maxBatchEvents: number) {
  const appends: Append[] = []
  const ops: string[] = []
  const history = {
    append(events: StoredEvent[]) {
      if (events.length === 0) return Promise.resolve()
      const numbers = events.map((e) => Number((e.data as { n: number }).n))
      return new Promise<void>((resolve) => {
        appends.push({ events: numbers, finish: () => { ops.push(`durable ${numbers.join(',')}`); resolve() } })
      })
    },
    async recordGap() {},
  } as Pick<HistoryStore, 'append' | 'recordGap'> as HistoryStore
  const batcher = new TransactionBatcher({
    registry,
    history,
    acknowledge: async (lsn) => { ops.push(`ack ${lsn}`) },
    publish: (events) => { ops.push(`publish ${events.map((e) => String((e.data as { n: number }).n)).join(',')}`) },
    signalGap: () => {},
    fence: async () => {},
    maxBatchEvents,
    onFailure: () => {},
  })
  return { batcher, appends, ops }
}

const time = new Date('2026-12-01T00:00:00Z')
let n = 0
/**
 * One two-row transaction, fed as the stream's inbox feeds it: each message handed over
 * synchronously, the next one held back while the handler's promise (a full batch) is pending.
 * Resolves once the whole transaction was taken: a pending result is the stream paused.
 */
async function transaction(batcher: TransactionBatcher, lsn: bigint): Promise<void> {
  const steps = [
    () => batcher.begin(lsn, time),
    () => batcher.change({ kind: 'insert', table: 'public.tracked', old: null, new: { n: ++n } }),
    () => batcher.change({ kind: 'insert', table: 'public.tracked', old: null, new: { n: ++n } }),
    () => batcher.commit(lsn, lsn + 1n),
  ]
  for (const step of steps) {
    const pending = step()
    if (pending !== undefined) await pending
  }
}

/**
 * Whether the promise settles within `ms`. What must go on at once gets seconds (a loaded host
 * can hold the loop past a short timer before the batcher's setImmediate runs); what must
 * wait gets a moment to show it does not.
 */
const settles = (promise: Promise<void>, ms: number): Promise<boolean> => new Promise((resolve) => {
  const timer = setTimeout(() => resolve(false), ms)
  const done = (): void => { clearTimeout(timer); resolve(true) }
  promise.then(done, done)
})
const settled = (promise: Promise<void>): Promise<boolean> => settles(promise, 5000)
const pending = async (promise: Promise<void>): Promise<boolean> => !(await settles(promise, 20))

t.test('I1, I2: a full batch waits only until a write takes it, not for its own write; writes one at a time, in order; memory bounded by two batches', async (t) => {
  n = 0
  const { batcher, appends, ops } = harness(4)
  // Batch 1 (events 1-4, read from the socket in one go) fills and is written at once.
  const one = transaction(batcher, 10n)
  const two = transaction(batcher, 20n)
  t.ok(await settled(one))
  t.ok(await settled(two), 'the first full batch is taken at once')
  await waitFor(() => appends.length === 1, 2000, 'the first append')
  // Batch 2 decodes while batch 1 is written; a flush is scheduled meanwhile (setImmediate,
  // as between two socket reads) and queues behind the write in flight.
  t.ok(await settled(transaction(batcher, 30n)))
  const full = transaction(batcher, 40n)
  t.ok(await pending(full), 'batch 2 is full while batch 1 is still being written: the stream waits, while no write has taken batch 2')
  appends[0]!.finish()
  await waitFor(() => appends.length === 2, 2000, 'the second append')
  t.same(appends[1]!.events, [5, 6, 7, 8], 'the next write takes batch 2 whole')
  t.ok(await settled(full), 'taken: the stream goes on decoding while batch 2 is written (before, it waited for batch 2 to be durable)')
  // Batch 3 fills while batch 2 is written: now the stream must wait (two batches held).
  t.ok(await settled(transaction(batcher, 50n)))
  const third = transaction(batcher, 60n)
  t.ok(await pending(third), 'a third batch is not decoded while one is written and one waits')
  t.equal(appends.length, 2, 'never two appends at once')
  appends[1]!.finish()
  await waitFor(() => appends.length === 3, 2000, 'the third append')
  t.ok(await settled(third))
  appends[2]!.finish()
  await waitFor(() => batcher.isIdle(), 2000, 'the batcher to drain')
  t.same(ops, [
    // A batch fills at a transaction's last change, before its commit: that commit is
    // acknowledged with the next write, never before its events are durable.
    'durable 1,2,3,4', 'publish 1,2,3,4', 'ack 11',
    'durable 5,6,7,8', 'publish 5,6,7,8', 'ack 31',
    'durable 9,10,11,12', 'publish 9,10,11,12', 'ack 51',
    'ack 61',
  ], 'each batch published and acknowledged only after it is durable, in order')
})

t.test('I1: after a failed write, a full batch waiting for a write is let go (the connection is being dropped), and nothing after the failure is acknowledged', async (t) => {
  n = 0
  const appends: (() => void)[] = []
  const acks: bigint[] = []
  const failures: Error[] = []
  let calls = 0
  const history = {
    append(events: StoredEvent[]) {
      if (events.length === 0) return Promise.resolve()
      calls++
      return new Promise<void>((resolve, reject) => { appends.push(calls === 1 ? () => reject(new Error('write refused')) : resolve) })
    },
    async recordGap() {},
  } as Pick<HistoryStore, 'append' | 'recordGap'> as HistoryStore
  const batcher = new TransactionBatcher({
    registry, history, maxBatchEvents: 4,
    acknowledge: async (lsn) => { acks.push(lsn) },
    publish: () => {}, signalGap: () => {}, fence: async () => {},
    onFailure: (err) => { failures.push(err) },
  })
  await transaction(batcher, 10n)
  await transaction(batcher, 20n)
  await waitFor(() => appends.length === 1, 2000, 'the first append')
  await transaction(batcher, 30n)
  const full = transaction(batcher, 40n)
  t.ok(await pending(full))
  appends[0]!()
  t.ok(await settled(full), 'the stream is not left paused')
  t.equal(failures.length, 1)
  t.equal(calls, 1, 'nothing is written after the failure')
  t.same(acks, [], 'nothing acknowledged')
})
