import t from 'tap'
import pg from 'pg'
import { createTestDatabase } from '../helpers/db.ts'
import { collectPublished, startTestService, waitForHistory } from '../helpers/service.ts'
import { waitFor } from '../helpers/wait.ts'

t.test('I2: transactions that commit in the opposite order to the one they began in come out in commit order', async (t) => {
  const tdb = await createTestDatabase(t)
  const service = await startTestService(t, tdb)
  const published = collectPublished(service)
  const first = new pg.Client({ connectionString: tdb.url })
  const second = new pg.Client({ connectionString: tdb.url })
  await first.connect()
  await second.connect()
  t.teardown(() => Promise.all([first.end(), second.end()]))

  await first.query('BEGIN')
  await first.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (1, 'began first', 1, 'USD')`)
  await second.query('BEGIN')
  await second.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (2, 'began second', 1, 'USD')`)
  await second.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (3, 'began second too', 1, 'USD')`)
  await second.query('COMMIT')
  // The first transaction's change has the lower change LSN but commits last.
  await first.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (4, 'began first, later row', 1, 'USD')`)
  await first.query('COMMIT')

  const rows = await waitForHistory(tdb, 4)
  t.same(rows.map((r) => r.payload.escrowId), ['2', '3', '1', '4'], 'commit order, then order within the transaction')
  const ids = rows.map((r) => r.id)
  t.same([...ids].sort(), ids, 'ids increase in commit order')
  t.equal(new Set(ids).size, 4, 'ids are unique')
  t.equal(ids[0]!.slice(0, 16), ids[1]!.slice(0, 16), 'one transaction, one commit LSN')
  t.same([ids[0]!.slice(17), ids[1]!.slice(17)], ['00000000', '00000001'], 'sequence within the transaction')
  await waitFor(() => published.length === 4)
  t.same(published.map((e) => e.id), ids, 'published in the same order')
})
