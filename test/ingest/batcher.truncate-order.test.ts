import t from 'tap'
import type { CatalogRegistry } from '../../src/catalog/registry.ts'
import type { HistoryStore } from '../../src/history/store.ts'
import { TransactionBatcher, type StreamGap } from '../../src/ingest/batcher.ts'
import { waitFor } from '../helpers/wait.ts'

// The ordering rules of a TRUNCATE in the batcher, against an in-memory history: the
// real-Postgres path is test/ingest/truncate-records-gap.test.ts.

const registry: CatalogRegistry = {
  tables: ['public.tracked', 'public.other'],
  fullIdentityTables: [],
  map: (change) => change.table === 'public.tracked' ? [{ type: 'row', topics: ['t'], data: { n: change.new!.n } }] : [],
}

interface Harness {
  batcher: TransactionBatcher
  /** Every step the batcher took, in order: `append 1,2`, `gap 10..12 truncate`, `publish 1`, `fence`, `signal 12 public.tracked`, `ack 20`. */
  ops: string[]
  failures: Error[]
}

function harness(options: { maxBatchEvents?: number; failGap?: boolean } = {}): Harness {
  const ops: string[] = []
  const failures: Error[] = []
  const names = (events: readonly { data: Readonly<Record<string, unknown>> }[]): string => events.map((e) => String(e.data.n)).join(',')
  const history = {
    async append(events) {
      if (events.length > 0) ops.push(`append ${names(events)}`)
    },
    async recordGap(after, until, reason) {
      if (options.failGap === true) throw new Error('gap write refused')
      ops.push(`gap ${after}..${until} ${reason}`)
    },
  } as Pick<HistoryStore, 'append' | 'recordGap'> as HistoryStore
  const batcher = new TransactionBatcher({
    registry,
    history,
    acknowledge: async (lsn) => { ops.push(`ack ${lsn}`) },
    publish: (events) => { ops.push(`publish ${names(events)}`) },
    signalGap: (gap: StreamGap) => { ops.push(`signal ${gap.untilLsn} ${gap.tables.join(',')}`) },
    fence: async () => { ops.push('fence') },
    maxBatchEvents: options.maxBatchEvents ?? 1000,
    onFailure: (err) => { failures.push(err) },
  })
  return { batcher, ops, failures }
}

const time = new Date('2026-12-01T00:00:00Z')
const insert = (table: string, n: number) => ({ kind: 'insert' as const, table, old: null, new: { n } })

/** Feeds messages the way the stream does: one at a time, awaiting what the handler returns. */
async function feed(batcher: TransactionBatcher, steps: (() => void | Promise<void>)[]): Promise<void> {
  for (const step of steps) await step()
}

t.test('I6, I1: a TRUNCATE becomes one gap at its commit, after every event of its transaction; later transactions after it; the ack last', async (t) => {
  const { batcher, ops } = harness()
  await feed(batcher, [
    () => batcher.begin(10n, time),
    () => batcher.change(insert('public.tracked', 1)),
    () => batcher.commit(10n, 12n),
    () => batcher.begin(20n, time),
    () => batcher.change(insert('public.tracked', 2)),
    () => batcher.truncate(['public.tracked']),
    () => batcher.change(insert('public.tracked', 3)),
    () => batcher.commit(20n, 24n),
    () => batcher.begin(30n, time),
    () => batcher.change(insert('public.tracked', 4)),
    () => batcher.commit(30n, 33n),
  ])
  await waitFor(() => batcher.isIdle(), 2000, 'the batcher to drain')
  t.same(ops, [
    'append 1,2,3',
    'gap 20..24 truncate',
    'append 4',
    'publish 1,2',
    'fence',
    'publish 3',
    'signal 24 public.tracked',
    'publish 4',
    'ack 33',
  ], 'gap bounds: the commit LSN and the commit end LSN; the gap row and its signal follow event 3 (after the TRUNCATE, same transaction) and precede event 4 (a later transaction)')
})

t.test('I6, I1: the truncating transaction\'s own commit is acknowledged only after its gap is durable and signalled', async (t) => {
  const { batcher, ops } = harness()
  await feed(batcher, [
    () => batcher.begin(20n, time),
    () => batcher.change(insert('public.tracked', 1)),
    () => batcher.truncate(['public.tracked']),
    () => batcher.commit(20n, 24n),
  ])
  await waitFor(() => batcher.isIdle(), 2000, 'the batcher to drain')
  t.same(ops, ['append 1', 'gap 20..24 truncate', 'publish 1', 'fence', 'signal 24 public.tracked', 'ack 24'])
})

t.test('I6: a TRUNCATE of untracked tables records no gap and signals nothing', async (t) => {
  const { batcher, ops } = harness()
  await feed(batcher, [
    () => batcher.begin(10n, time),
    () => batcher.change(insert('public.tracked', 1)),
    () => batcher.truncate(['public.untracked']),
    () => batcher.commit(10n, 12n),
  ])
  await waitFor(() => batcher.isIdle(), 2000, 'the batcher to drain')
  t.same(ops, ['append 1', 'publish 1', 'ack 12'])
})

t.test('I6: a transaction that truncates twice records one gap at its commit, naming only the tracked tables of both', async (t) => {
  const { batcher, ops } = harness()
  await feed(batcher, [
    () => batcher.begin(10n, time),
    () => batcher.truncate(['public.tracked', 'public.untracked']),
    () => batcher.change(insert('public.tracked', 1)),
    () => batcher.truncate(['public.other']),
    () => batcher.change(insert('public.tracked', 2)),
    () => batcher.commit(10n, 12n),
  ])
  await waitFor(() => batcher.isIdle(), 2000, 'the batcher to drain')
  t.same(ops, [
    'append 1,2',
    'gap 10..12 truncate',
    'fence',
    'publish 1',
    'fence',
    'publish 2',
    'signal 12 public.tracked,public.other',
    'ack 12',
  ], 'one gap and one signal at the commit; access is asked again at each TRUNCATE, before the events after it are published (I7)')
})

t.test('I6, I1: a TRUNCATE and a reload larger than a batch: written and published in chunks, the gap and its signal after the last chunk, the ack after the signal', async (t) => {
  const { batcher, ops } = harness({ maxBatchEvents: 3 })
  const steps: (() => void | Promise<void>)[] = [
    () => batcher.begin(10n, time),
    () => batcher.change(insert('public.tracked', 1)),
    () => batcher.change(insert('public.tracked', 2)),
    () => batcher.truncate(['public.tracked']),
  ]
  for (let n = 3; n <= 10; n++) steps.push(() => batcher.change(insert('public.tracked', n)))
  steps.push(() => batcher.commit(10n, 12n))
  await feed(batcher, steps)
  await waitFor(() => batcher.isIdle(), 2000, 'the batcher to drain')
  const appended = ops.filter((op) => op.startsWith('append ')).map((op) => op.slice(7).split(',').length)
  t.ok(appended.every((n) => n <= 3), `no write holds more than a batch (${appended.join(', ')})`)
  t.ok(appended.length > 1, 'the transaction was written in several chunks')
  const published = ops.filter((op) => op.startsWith('publish ') || op.startsWith('signal ')).map((op) => op.startsWith('signal ') ? 'signal' : op.slice(8)).join(',')
  t.equal(published, '1,2,3,4,5,6,7,8,9,10,signal', 'published in order, the gap signal after the last event of the transaction')
  const lastAppend = ops.findLastIndex((op) => op.startsWith('append '))
  t.equal(ops.filter((op) => op.startsWith('gap ')).length, 1, 'one gap row')
  t.ok(lastAppend < ops.indexOf('gap 10..12 truncate'), 'the gap is recorded after every event of the transaction is durable')
  t.ok(ops.indexOf('gap 10..12 truncate') < ops.indexOf('signal 12 public.tracked'), 'the gap is durable before it is signalled')
  t.equal(ops.at(-1), 'ack 12', 'acknowledged once, at the end')
  t.equal(ops.filter((op) => op.startsWith('ack')).length, 1)
})

t.test('I1: a failed gap write publishes, signals and acknowledges nothing, and reports the failure once', async (t) => {
  const { batcher, ops, failures } = harness({ failGap: true })
  await feed(batcher, [
    () => batcher.begin(10n, time),
    () => batcher.change(insert('public.tracked', 1)),
    () => batcher.truncate(['public.tracked']),
    () => batcher.change(insert('public.tracked', 2)),
    () => batcher.commit(10n, 12n),
    () => batcher.begin(20n, time),
    () => batcher.change(insert('public.tracked', 3)),
    () => batcher.commit(20n, 22n),
  ])
  await waitFor(() => failures.length > 0, 2000, 'the failure')
  t.same(ops, ['append 1,2'], 'the truncating transaction\'s events are durable (re-sent, they are stored once); the later transaction\'s are not, and nothing was published, signalled or acknowledged')
  t.match(failures[0]!.message, /gap write refused/)
  t.equal(batcher.failed, failures[0])
  t.notOk(batcher.isIdle(), 'a failed batcher is never idle: keepalives do not move the slot')
  await feed(batcher, [() => batcher.begin(30n, time), () => batcher.change(insert('public.tracked', 4)), () => batcher.commit(30n, 32n)])
  await t.rejects(batcher.flush(), /gap write refused/, 'later writes refuse too')
  t.same(ops, ['append 1,2'], 'nothing after the failure was written or acknowledged')
  t.equal(failures.length, 1, 'onFailure is called once')
})
