import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { sql } from 'kysely'
import { createTestDatabase } from '../helpers/db.ts'
import { listMigrations, migrate, SQL_DIR } from '../../src/db/migrate.ts'
import { createHistoryStore } from '../../src/history/store.ts'
import { eventFrameJson, makeEvent, storedEventFromJson, type StoredEvent } from '../../src/history/event.ts'
import { pageFrame } from '../../src/history/page-frame.ts'
import { readLatestPerKey, syncLatestPerKey } from '../../src/history/latest-per-key.ts'
import { conflatedTopics } from '../../src/catalog/conflation.ts'
import { tradingCatalog } from '../../src/catalogs/trading/index.ts'
import { ZERO_ID } from '../../src/event-id.ts'

// sql/007 keeps each event's payload, id and commit time as the texts its frames splice
// in, without rewriting the rows already stored (docs/operations.md). A history written
// by the schema before it must replay, page, poll and build conflated state exactly as it
// did, beside the rows written after it (I3: byte for byte the frames the read-back
// events make; I17 for the state).
const BEFORE = (await listMigrations()).filter((file) => file < '007')

async function previousSchema(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'walcast-sql-006-'))
  for (const file of BEFORE) await fs.copyFile(path.join(SQL_DIR, file), path.join(dir, file))
  return dir
}

t.test('I3/I17: sql/007 applies on a history written by the previous schema; old rows replay as before, new rows as walcast made them', async (t) => {
  const tdb = await createTestDatabase(t, { prepared: false })
  const db = tdb.database.db
  const dir = await previousSchema()
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }))
  t.same((await migrate(db, dir)).applied, BEFORE, 'the schema up to sql/006')

  // Rows as the previous append stored them (payload jsonb; no id or ts texts): key order
  // and spacing are jsonb's, not walcast's.
  await tdb.query(`
    INSERT INTO walcast.events (commit_lsn, seq, topics, type, payload, committed_at) VALUES
      ('0/2A51B80', 0, ARRAY['orderbook:BTC-USD', 'user:3'], 'book:level', '{"side":"bid","price":"100","qty":"1","asset":"BTC-USD"}', '2026-12-02T07:01:02.345Z'),
      ('0/2A51B80', 1, ARRAY['orderbook:BTC-USD'], 'book:level', '{"side":"ask","price":"101","qty":"2","asset":"BTC-USD","note":"ü \\"q\\""}', '2026-12-02T07:01:02.345Z');
    INSERT INTO walcast.event_topics (topic, commit_lsn, seq) VALUES
      ('orderbook:BTC-USD', '0/2A51B80', 0), ('user:3', '0/2A51B80', 0), ('orderbook:BTC-USD', '0/2A51B80', 1)`)
  const oldTs = '2026-12-02T07:01:02.345Z'
  const old: StoredEvent[] = [
    storedEventFromJson({ lsn: 0x2a51b80n, seq: 0 }, 'book:level', ['orderbook:BTC-USD', 'user:3'], '{"qty": "1", "side": "bid", "asset": "BTC-USD", "price": "100"}', oldTs),
    storedEventFromJson({ lsn: 0x2a51b80n, seq: 1 }, 'book:level', ['orderbook:BTC-USD'], '{"qty": "2", "note": "ü \\"q\\"", "side": "ask", "asset": "BTC-USD", "price": "101"}', oldTs),
  ]

  t.same((await migrate(db)).applied, ['007_walcast_event_texts.sql'], 'sql/007 applied on its own')
  // Idempotent: the file again, as psql -f would run it.
  await sql.raw(await fs.readFile(path.join(SQL_DIR, '007_walcast_event_texts.sql'), 'utf8')).execute(db)
  const columns = await tdb.query<{ name: string; type: string; nullable: boolean }>(`
    SELECT attname AS name, format_type(atttypid, atttypmod) AS type, NOT attnotnull AS nullable FROM pg_attribute
    WHERE attrelid = 'walcast.events'::regclass AND attnum > 0 AND NOT attisdropped AND attname IN ('payload', 'payload_jsonb', 'id', 'ts') ORDER BY attname`)
  t.same(columns.rows, [
    { name: 'id', type: 'text', nullable: true },
    { name: 'payload', type: 'json', nullable: true },
    { name: 'payload_jsonb', type: 'jsonb', nullable: true },
    { name: 'ts', type: 'text', nullable: true },
  ], 'the old payload column renamed, the new texts beside it, nothing rewritten')
  const kept = await tdb.query<{ payload: string | null; jsonb: string | null; id: string | null }>(`SELECT payload::text AS payload, payload_jsonb::text AS jsonb, id FROM walcast.events ORDER BY seq`)
  t.same(kept.rows.map((r) => [r.payload, r.id]), [[null, null], [null, null]], 'old rows keep what they had')
  t.equal(kept.rows[0]!.jsonb, old[0]!.dataJson, 'old payloads stay in payload_jsonb')
  await t.rejects(tdb.query(`INSERT INTO walcast.events (commit_lsn, seq, topics, type, committed_at) VALUES ('0/1', 0, ARRAY['x'], 'x', now())`),
    { code: '23514' }, 'a row without a payload in either column is refused')

  // The conflated state of the old rows is built from payload_jsonb.
  const conflated = conflatedTopics(tradingCatalog)!
  t.same((await syncLatestPerKey(db, conflated)).built, ['orderbook:{asset}', 'price:{asset}'], 'state built from the old rows')

  const history = createHistoryStore(db, conflated)
  const at = new Date('2026-12-02T08:00:00.001Z')
  const live = [
    makeEvent({ lsn: 0x3000000n, seq: 0 }, { type: 'book:level', topics: ['orderbook:BTC-USD'], data: { side: 'bid', price: '100', qty: '5', asset: 'BTC-USD' } }, at),
    makeEvent({ lsn: 0x3000000n, seq: 1 }, { type: 'book:level', topics: ['orderbook:BTC-USD', 'user:3'], data: { side: 'ask', price: '102', qty: '1', asset: 'BTC-USD', n: 1.5e300 } }, at),
  ]
  await history.append(live)
  const texts = await tdb.query<{ payload: string; jsonb: string | null; id: string; ts: string }>(`SELECT payload::text AS payload, payload_jsonb::text AS jsonb, id, ts FROM walcast.events WHERE commit_lsn = '0/3000000' ORDER BY seq`)
  t.same(texts.rows, live.map((e) => ({ payload: e.dataJson, jsonb: null, id: e.id, ts: e.ts })), 'new rows keep the live texts, byte for byte')

  const page = await history.readSince('orderbook:BTC-USD', ZERO_ID, 100)
  t.equal(page.length, 4, 'old and new rows on one page')
  const expected = [...old, ...live]
  for (const [i, event] of page.entries()) {
    t.equal(pageFrame(event, 'orderbook:BTC-USD')!.json, eventFrameJson(expected[i]!, 'orderbook:BTC-USD'), `event ${i}: its frame byte for byte`)
    t.same(event.topics, expected[i]!.topics, `event ${i}: topics`)
    t.same(event.data, expected[i]!.data, `event ${i}: data`)
  }
  const [users] = await history.readSinceEach(['user:3'], ZERO_ID, 100)
  t.same(users!.map((event) => pageFrame(event, 'user:3')!.json), [old[0]!, live[1]!].map((event) => eventFrameJson(event, 'user:3')), 'follow-set pages alike')
  const readBack = await history.readAfter(ZERO_ID, 100)
  t.same(readBack.map((event) => eventFrameJson(event, 'orderbook:BTC-USD')), expected.map((event) => eventFrameJson(event, 'orderbook:BTC-USD')), 'readAfter: the same frames')
  const state = await readLatestPerKey(db, 'orderbook:BTC-USD', ZERO_ID, 10)
  t.same(state.map((event) => eventFrameJson(event, 'orderbook:BTC-USD')), [old[1]!, ...live].map((event) => eventFrameJson(event, 'orderbook:BTC-USD')),
    'state: the old ask (its key not written since), then the new bid and ask')
})
