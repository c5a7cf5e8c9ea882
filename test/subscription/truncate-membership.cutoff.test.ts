import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { startFeedService } from '../helpers/feed.ts'
import { waitForHistory } from '../helpers/service.ts'
import { signToken } from '../helpers/tokens.ts'
import { waitFor } from '../helpers/wait.ts'
import { connectWs } from '../helpers/ws-client.ts'
import { seedEscrow } from '../helpers/escrow-fixture.ts'

for (const [name, sqlText] of [
  ['same transaction', `BEGIN; TRUNCATE escrow_parties; UPDATE escrows SET status = 'funded' WHERE id = 1; COMMIT`],
  ['next transaction, same write', ''],
] as const) {
  t.test(`I7: a TRUNCATE of escrow_parties cuts a former party off before anything after it (${name})`, async (t) => {
    const tdb = await createTestDatabase(t)
    const { service } = await startFeedService(t, tdb)
    await seedEscrow(tdb, [[1, 'Ada', 'buyer']])
    const newest = (await waitForHistory(tdb, 2)).at(-1)!.id
    await waitFor(() => (service.hub.lastId() ?? '') >= newest, 10_000, 'published')
    const ws = await connectWs(t, service.http.port, await signToken('1'))
    t.equal((await ws.subscribeAndWait('escrow:1')).op, 'subscribed')
    if (sqlText !== '') await tdb.query(sqlText)
    else {
      await tdb.query(`CREATE FUNCTION walcast.slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.payload->>'title' = 'slow' THEN PERFORM pg_sleep(1); END IF; RETURN NEW; END $$`)
      await tdb.query(`CREATE TRIGGER slow BEFORE INSERT ON walcast.events FOR EACH ROW EXECUTE FUNCTION walcast.slow()`)
      await tdb.query(`INSERT INTO notifications (user_id, kind, title) VALUES (1, 'k', 'slow')`)
      await tdb.query(`TRUNCATE escrow_parties`)
      await tdb.query(`UPDATE escrows SET status = 'funded' WHERE id = 1`)
    }
    const revoked = await ws.next((f) => f.op === 'unsubscribed')
    t.same(revoked, { op: 'unsubscribed', topic: 'escrow:1', reason: 'revoked' })
    // The update after the TRUNCATE is published; a second subscriber proves it went out.
    await waitFor(async () => (await tdb.query(`SELECT 1 FROM walcast.events WHERE payload->>'to' = 'funded'`)).rowCount === 1, 10_000, 'the update is durable')
    const funded = (await tdb.query<{ id: string }>(`SELECT lpad(to_hex((commit_lsn - '0/0')::bigint), 16, '0') || '-' || lpad(to_hex(seq), 8, '0') AS id FROM walcast.events WHERE payload->>'to' = 'funded'`)).rows[0]!.id
    await waitFor(() => (service.hub.lastId() ?? '') >= funded, 10_000, 'the update is published')
    t.equal(ws.events('escrow:1').length, 0, 'the former party gets no event after the TRUNCATE')
  })
}
