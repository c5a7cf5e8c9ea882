import t from 'tap'
import type { RowChange } from '../../src/catalog/row-change.ts'
import { createReplicationStream, type StreamHandler } from '../../src/replication/stream.ts'
import { ensureSlot } from '../../src/replication/slot.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts'
import { silentLogger } from '../helpers/log.ts'
import { slotRow } from '../helpers/slot.ts'
import { waitFor } from '../helpers/wait.ts'

// The stream hands messages over synchronously and pauses the socket only while the
// handler waits (src/replication/stream.ts, createInbox): nothing may overtake a message
// the handler is still waiting on, and a handler that fails ends the connection.

function recorder(overrides: Partial<StreamHandler> = {}): StreamHandler & { ids: string[] } {
  const ids: string[] = []
  return {
    ids,
    begin: () => {},
    change: (change: RowChange) => { ids.push(String(change.new!.id)) },
    message: () => {},
    truncate: () => {},
    commit: () => {},
    isIdle: () => true,
    ...overrides,
  }
}

async function streamFrom(tdb: TestDatabase) {
  const { slot } = await ensureSlot(tdb.database.db, tdb.slot)
  return { stream: createReplicationStream({ connectionString: tdb.url, slot: tdb.slot, publication: tdb.publication, statusIntervalMs: 10_000, timeoutMs: 20_000 }, silentLogger()), start: slot.confirmedFlushLsn ?? 0n }
}

async function insertEscrows(tdb: TestDatabase, from: number, count: number): Promise<void> {
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) SELECT g, 'e', 1, 'USD' FROM generate_series($1::int, $2::int) g`, [from, from + count - 1])
}

t.test('while the handler waits, later messages wait behind it and then arrive in order', async (t) => {
  const tdb = await createTestDatabase(t)
  const { stream, start } = await streamFrom(tdb)
  let release!: () => void
  const held = new Promise<void>((resolve) => { release = resolve })
  let releasedAt = Number.POSITIVE_INFINITY
  const arrivals: number[] = []
  const handler = recorder()
  const change = handler.change
  handler.change = (c) => {
    change(c)
    arrivals.push(performance.now())
    // The first row keeps the handler waiting (as a full batch waits for the write before it).
    if (handler.ids.length === 1) return held
  }
  const running = stream.run(start, handler)
  await insertEscrows(tdb, 1, 50)
  await insertEscrows(tdb, 51, 50)
  await waitFor(async () => handler.ids.length >= 1 || undefined, 10_000, 'the first row')
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(handler.ids.length, 1, 'nothing after the waiting message was handled while it waited')
  releasedAt = performance.now()
  release()
  await waitFor(async () => handler.ids.length >= 100 || undefined, 10_000, 'every row')
  t.same(handler.ids, Array.from({ length: 100 }, (_, i) => String(i + 1)), 'every row once, in commit order')
  t.ok(arrivals.slice(1).every((at) => at >= releasedAt), 'the rest came after the release')
  await stream.stop()
  await running
})

t.test('a handler that throws ends the connection with its error; nothing is acknowledged', async (t) => {
  const tdb = await createTestDatabase(t)
  const { stream, start } = await streamFrom(tdb)
  const before = (await slotRow(tdb))!.confirmed_flush_lsn
  const handler = recorder({ change: () => { throw new Error('mapper broke') } })
  const running = stream.run(start, handler)
  await insertEscrows(tdb, 1, 3)
  await t.rejects(running, { message: 'mapper broke' }, 'run() fails with the handler\'s error')
  t.equal((await slotRow(tdb))!.confirmed_flush_lsn, before, 'the slot did not move')
})

t.test('a handler whose wait fails ends the connection with that failure', async (t) => {
  const tdb = await createTestDatabase(t)
  const { stream, start } = await streamFrom(tdb)
  const handler = recorder({ change: () => Promise.reject(new Error('write failed')) })
  const running = stream.run(start, handler)
  await insertEscrows(tdb, 1, 3)
  await t.rejects(running, { message: 'write failed' })
})

t.test('timestamptz values reach the handler as ISO-8601 text, whatever the server\'s time zone', async (t) => {
  const tdb = await createTestDatabase(t)
  // The session walcast streams in is set to UTC; the database's own default is not.
  await tdb.query(`ALTER DATABASE ${tdb.name} SET timezone = 'Asia/Kolkata'`)
  const { stream, start } = await streamFrom(tdb)
  const rows: Record<string, unknown>[] = []
  const handler = recorder({ change: (change) => { rows.push(change.new!) } })
  const running = stream.run(start, handler)
  await insertEscrows(tdb, 1, 1)
  await tdb.query(`INSERT INTO milestones (escrow_id, title, amount, currency, status, released_at) VALUES (1, 'm', 5, 'USD', 'released', '2026-12-02 11:27:32.123456+00')`)
  await waitFor(async () => rows.length >= 2 || undefined, 10_000, 'both rows')
  t.equal(rows[1]!.released_at, '2026-12-02T11:27:32.123Z')
  t.equal(rows[1]!.escrow_id, '1', 'int8 as text, as pg gives it')
  await stream.stop()
  await running
})
