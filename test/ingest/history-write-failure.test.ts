import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { capturingLogger } from '../helpers/log.ts'
import { collectPublished, historyRows, startTestService } from '../helpers/service.ts'
import { waitFor } from '../helpers/wait.ts'

// A history write can fail while the replication connection is healthy (a full disk, a
// lock timeout, a trigger a DBA added). The ingest must drop that connection and start
// again from the last durable position, not keep reading into a batcher that can never
// write again.
t.test('I1: a failed history write restarts replication from the last durable position', async (t) => {
  const tdb = await createTestDatabase(t)
  await tdb.query(`
    CREATE FUNCTION walcast.refuse_marked() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.payload->>'to' = 'funded' THEN RAISE EXCEPTION 'history write refused for this test'; END IF;
      RETURN NEW;
    END $$`)
  await tdb.query(`CREATE TRIGGER refuse_marked BEFORE INSERT ON walcast.events FOR EACH ROW EXECUTE FUNCTION walcast.refuse_marked()`)
  const { log, lines } = capturingLogger('info')
  const service = await startTestService(t, tdb, { WALCAST_STATUS_INTERVAL: '1s' }, log)
  const published = collectPublished(service)

  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (1, 'before', 1, 'USD')`)
  await waitFor(() => published.length === 1, 15_000, 'the first event')
  await tdb.query(`UPDATE escrows SET status = 'funded' WHERE id = 1`)
  await waitFor(() => service.ingest.status().state === 'reconnecting', 15_000, 'the ingest to give up on the connection')
  t.match(service.ingest.status().reason, /history write refused/, 'its status says why')
  t.ok(lines().some((line) => line.includes('history write refused')), 'and so does the log')
  t.equal(published.length, 1, 'nothing after the failed write was published')

  await tdb.query(`DROP TRIGGER refuse_marked ON walcast.events`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (2, 'after', 1, 'USD')`)
  await waitFor(() => published.length === 3, 30_000, 'the refused event and the next one, once writes work again')
  t.same(published.map((e) => e.data.to), ['draft', 'funded', 'draft'], 'in order, nothing lost')
  t.equal((await historyRows(tdb)).length, 3, 'all durable')
  t.equal(service.ingest.status().state, 'streaming', 'streaming again')
})
