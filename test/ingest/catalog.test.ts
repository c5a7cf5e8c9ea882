import t from 'tap'
import { createTestDatabase } from '../helpers/db.ts'
import { collectPublished, startTestService, waitForHistory } from '../helpers/service.ts'
import { waitFor } from '../helpers/wait.ts'

t.test('each catalog event from real SQL, with exact payloads', async (t) => {
  const tdb = await createTestDatabase(t)
  const service = await startTestService(t, tdb)
  const published = collectPublished(service)

  await tdb.query(`INSERT INTO users (id, display_name, email, phone) VALUES (10, 'Buyer', 'buyer@example.com', '+15551230000'), (11, 'Seller', 'seller@example.com', '+15551230001')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency, status) VALUES (100, 'Laptop', 1234.50, 'EUR', 'draft')`)
  await tdb.query(`UPDATE escrows SET status = 'funded' WHERE id = 100`)
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role) VALUES (100, 10, 'buyer')`)
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role, accepted_at) VALUES (100, 11, 'seller', now())`)
  await tdb.query(`UPDATE escrow_parties SET accepted_at = '2026-01-02T03:04:05Z' WHERE escrow_id = 100 AND user_id = 10`)
  await tdb.query(`INSERT INTO milestones (id, escrow_id, title, amount, currency) VALUES (7, 100, 'First', 600.25, 'EUR')`)
  await tdb.query(`UPDATE milestones SET status = 'released', released_at = '2026-02-03T04:05:06Z' WHERE id = 7`)
  await tdb.query(`INSERT INTO disputes (id, escrow_id, filed_by, reason) VALUES (5, 100, 10, 'Not delivered')`)
  await tdb.query(`UPDATE disputes SET status = 'resolved', resolution = 'refund half', resolved_at = '2026-03-04T05:06:07Z' WHERE id = 5`)
  await tdb.query(`DELETE FROM escrow_parties WHERE escrow_id = 100 AND user_id = 11`)
  await tdb.query(`INSERT INTO notifications (id, user_id, kind, title, body, created_at) VALUES (9, 10, 'payment', 'Funds received', 'EUR 1234.50', '2026-04-05T06:07:08Z')`)

  const rows = await waitForHistory(tdb, 9)
  t.same(rows.map((r) => [r.type, r.topics, r.payload]), [
    ['escrow:status_changed', ['escrow:100'], { escrowId: '100', from: null, to: 'draft' }],
    ['escrow:status_changed', ['escrow:100'], { escrowId: '100', from: 'draft', to: 'funded' }],
    ['escrow:party_joined', ['escrow:100'], { escrowId: '100', userId: '11', role: 'seller' }],
    ['escrow:party_joined', ['escrow:100'], { escrowId: '100', userId: '10', role: 'buyer' }],
    ['escrow:milestone_released', ['escrow:100'], { escrowId: '100', milestoneId: '7', amount: '600.25', currency: 'EUR', releasedAt: '2026-02-03T04:05:06.000Z' }],
    ['escrow:dispute_filed', ['escrow:100', 'admin:disputes'], { escrowId: '100', disputeId: '5', filedBy: '10', reason: 'Not delivered' }],
    ['escrow:dispute_resolved', ['escrow:100', 'admin:disputes'], { escrowId: '100', disputeId: '5', resolution: 'refund half', resolvedAt: '2026-03-04T05:06:07.000Z' }],
    ['escrow:party_left', ['escrow:100'], { escrowId: '100', userId: '11' }],
    ['notification:new', ['user:10'], { notificationId: '9', kind: 'payment', title: 'Funds received', body: 'EUR 1234.50', createdAt: '2026-04-05T06:07:08.000Z' }],
  ])
  t.equal(rows.length, 9, 'exactly the catalog events, nothing for the pending milestone or the invited party')

  await waitFor(() => published.length === 9, 10_000, 'hub publish')
  t.same(published.map((e) => e.id), rows.map((r) => r.id), 'the hub publishes exactly what is durable, in order')
  const ids = rows.map((r) => r.id)
  t.same([...ids].sort(), ids, 'string order of ids is stream order')
  t.ok(ids.every((id) => /^[0-9a-f]{16}-[0-9a-f]{8}$/.test(id)), 'ids are fixed width')
})

t.test('updates the catalog does not care about produce no event', async (t) => {
  const tdb = await createTestDatabase(t)
  await startTestService(t, tdb)
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'A')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency, status) VALUES (1, 'T', 1, 'USD', 'funded')`)
  await tdb.query(`UPDATE escrows SET title = 'Renamed', amount = 2, updated_at = now() WHERE id = 1`)
  await tdb.query(`UPDATE escrows SET status = 'funded' WHERE id = 1`)
  await tdb.query(`INSERT INTO milestones (id, escrow_id, title, amount, currency) VALUES (1, 1, 'M', 1, 'USD')`)
  await tdb.query(`UPDATE milestones SET title = 'M2' WHERE id = 1`)
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role, accepted_at) VALUES (1, 1, 'buyer', now())`)
  await tdb.query(`UPDATE escrow_parties SET accepted_at = now() + interval '1 day' WHERE escrow_id = 1`)
  await tdb.query(`UPDATE notifications SET read_at = now()`)
  // A marker event proves everything before it was decoded.
  await tdb.query(`UPDATE escrows SET status = 'completed' WHERE id = 1`)
  const rows = await waitForHistory(tdb, 3)
  t.same(rows.map((r) => [r.type, r.payload]), [
    ['escrow:status_changed', { escrowId: '1', from: null, to: 'funded' }],
    ['escrow:party_joined', { escrowId: '1', userId: '1', role: 'buyer' }],
    ['escrow:status_changed', { escrowId: '1', from: 'funded', to: 'completed' }],
  ])
})

t.test('an unchanged TOASTed column is never turned into null or a change', async (t) => {
  const tdb = await createTestDatabase(t)
  await startTestService(t, tdb)
  // Random text does not compress, so 200 kB is stored out of line (TOAST).
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency, status, terms)
    VALUES (1, 'T', 1, 'USD', 'draft', (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 6000)))`)
  await tdb.query(`UPDATE escrows SET status = 'funded' WHERE id = 1`)
  await tdb.query(`UPDATE escrows SET title = 'no status change' WHERE id = 1`)
  await tdb.query(`UPDATE escrows SET status = 'in_progress' WHERE id = 1`)
  const rows = await waitForHistory(tdb, 3)
  t.same(rows.map((r) => r.payload), [
    { escrowId: '1', from: null, to: 'draft' },
    { escrowId: '1', from: 'draft', to: 'funded' },
    { escrowId: '1', from: 'funded', to: 'in_progress' },
  ])
  const stored = await tdb.query<{ n: number }>(`SELECT count(*)::int AS n FROM walcast.events WHERE payload::text LIKE '%terms%'`)
  t.equal(stored.rows[0]!.n, 0, 'the terms column never reaches a payload')
})

t.test('personal data never reaches a payload', async (t) => {
  const tdb = await createTestDatabase(t)
  await startTestService(t, tdb)
  const email = 'secret.person@example.org'
  const phone = '+44 20 7946 0991'
  await tdb.query(`INSERT INTO users (id, display_name, email, phone) VALUES (1, 'P', $1, $2)`, [email, phone])
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (1, 'T', 1, 'USD')`)
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role, accepted_at) VALUES (1, 1, 'buyer', now())`)
  await tdb.query(`INSERT INTO disputes (escrow_id, filed_by, reason) VALUES (1, 1, 'r')`)
  await tdb.query(`INSERT INTO notifications (user_id, kind, title, body) VALUES (1, 'k', 't', 'b')`)
  await tdb.query(`UPDATE users SET email = 'other@example.org', phone = '+1 555 0100' WHERE id = 1`)
  await tdb.query(`DELETE FROM escrow_parties`)
  const rows = await waitForHistory(tdb, 5)
  const everything = JSON.stringify(rows)
  for (const secret of [email, phone, 'other@example.org', '+1 555 0100', '@']) {
    t.notOk(everything.includes(secret), `no payload contains ${secret}`)
  }
})

t.test('I7: an UPDATE of escrow_parties\' key leaves the old pair, then joins the new one, from real WAL', async (t) => {
  const tdb = await createTestDatabase(t)
  await startTestService(t, tdb)
  await tdb.query(`INSERT INTO users (id, display_name) VALUES (1, 'A'), (2, 'B')`)
  await tdb.query(`INSERT INTO escrows (id, title, amount, currency) VALUES (1, 'One', 1, 'USD'), (2, 'Two', 1, 'USD')`)
  await tdb.query(`INSERT INTO escrow_parties (escrow_id, user_id, role, accepted_at) VALUES (1, 1, 'buyer', now())`)
  await tdb.query(`UPDATE escrow_parties SET escrow_id = 2 WHERE escrow_id = 1 AND user_id = 1`)
  await tdb.query(`UPDATE escrow_parties SET user_id = 2, accepted_at = NULL WHERE escrow_id = 2 AND user_id = 1`)
  await tdb.query(`UPDATE escrow_parties SET role = 'seller' WHERE escrow_id = 2 AND user_id = 2`)
  await tdb.query(`UPDATE escrows SET status = 'funded' WHERE id = 1`)
  const rows = await waitForHistory(tdb, 7)
  t.same(rows.map((r) => [r.type, r.topics, r.payload]), [
    ['escrow:status_changed', ['escrow:1'], { escrowId: '1', from: null, to: 'draft' }],
    ['escrow:status_changed', ['escrow:2'], { escrowId: '2', from: null, to: 'draft' }],
    ['escrow:party_joined', ['escrow:1'], { escrowId: '1', userId: '1', role: 'buyer' }],
    ['escrow:party_left', ['escrow:1'], { escrowId: '1', userId: '1' }],
    ['escrow:party_joined', ['escrow:2'], { escrowId: '2', userId: '1', role: 'buyer' }],
    ['escrow:party_left', ['escrow:2'], { escrowId: '2', userId: '1' }],
    ['escrow:status_changed', ['escrow:1'], { escrowId: '1', from: 'draft', to: 'funded' }],
  ], 'a moved row: left on the old topic, then joined on the new one if accepted; a role change: nothing')
  t.ok(rows[3]!.id < rows[4]!.id, 'the two events of one row change keep their order')
})
