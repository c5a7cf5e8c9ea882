-- Events keep the texts their frames are made of (src/history/event.ts eventFrameJson):
--   payload  json: the event's `data` as walcast serialized it, byte for byte (jsonb
--            re-parsed it at every append and re-serialised it, keys reordered, at every
--            read: a replayed `data` was not the live one's text);
--   id       the event id as clients see it (formatEventId);
--   ts       the commit time as frames spell it (ISO-8601, the live event's `ts`).
-- so a replay page (walcast.history_pages) only concatenates them (bench/findings.md).
--
-- Safe on a large history: every statement here changes the catalog only (no table
-- rewrite, no scan), so the ACCESS EXCLUSIVE lock it takes lasts milliseconds. Rows
-- written before it keep their payload in `payload_jsonb` (the old column, renamed) and
-- have no id or ts text: every reader falls back to computing them (coalesce), so old
-- and new rows replay alike; docs/operations.md says how to convert old rows, if wanted.
-- Idempotent: safe to run again with psql -f.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_attribute
                 WHERE attrelid = 'walcast.events'::regclass AND attname = 'payload_jsonb' AND NOT attisdropped) THEN
    ALTER TABLE walcast.events RENAME COLUMN payload TO payload_jsonb;
    ALTER TABLE walcast.events ALTER COLUMN payload_jsonb DROP NOT NULL;
    ALTER TABLE walcast.events ADD COLUMN payload json;
  END IF;
END
$$;
ALTER TABLE walcast.events ADD COLUMN IF NOT EXISTS id text;
ALTER TABLE walcast.events ADD COLUMN IF NOT EXISTS ts text;
-- Every event still has its payload, in one column or the other. NOT VALID: checked for
-- every row written from now on, without scanning the old ones (which have theirs).
ALTER TABLE walcast.events DROP CONSTRAINT IF EXISTS events_payload_present;
ALTER TABLE walcast.events ADD CONSTRAINT events_payload_present
  CHECK (payload IS NOT NULL OR payload_jsonb IS NOT NULL) NOT VALID;

-- sql/006's function, reading the stored texts: per row it now concatenates, where it
-- formatted the id, re-serialised the jsonb payload and formatted the commit time (its
-- pinned plan and its comment in sql/006 hold as they are). A topic's JSON text is made
-- once per page (OFFSET 0 keeps that subquery from being pulled up into the per-row
-- expression). `topics` is NULL for an event of one topic: the page's topic is all of them.
CREATE OR REPLACE FUNCTION walcast.history_pages(page_topics text[], after_lsn pg_lsn, after_seq integer, page_limit integer)
RETURNS TABLE (page bigint, frame text, seq integer, type text, topics text)
LANGUAGE sql STABLE
SET enable_bitmapscan = off
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
  SELECT q.i,
    '{"op":"event","id":"' || coalesce(e.id, lpad(to_hex((e.commit_lsn - '0/0'::pg_lsn)::bigint), 16, '0') || '-' || lpad(to_hex(e.seq), 8, '0'))
      || '","topic":' || q.topic_json || ',"type":' || to_json(e.type)::text || ',"data":' || coalesce(e.payload::text, e.payload_jsonb::text)
      || ',"ts":"' || coalesce(e.ts, to_char(e.committed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) || '","lsn":"' || e.commit_lsn::text || '"}',
    e.seq, e.type, CASE WHEN cardinality(e.topics) = 1 THEN NULL ELSE array_to_json(e.topics)::text END
  FROM (
    SELECT u.topic, u.i, to_json(u.topic)::text AS topic_json FROM unnest(page_topics) WITH ORDINALITY AS u(topic, i) OFFSET 0
  ) q
  CROSS JOIN LATERAL (
    SELECT et.commit_lsn, et.seq FROM walcast.event_topics et
    WHERE et.topic = q.topic AND (et.commit_lsn, et.seq) > (after_lsn, after_seq)
    ORDER BY et.commit_lsn, et.seq
    LIMIT page_limit
  ) t
  JOIN walcast.events e ON e.commit_lsn = t.commit_lsn AND e.seq = t.seq
  ORDER BY q.i, t.commit_lsn, t.seq
$$;
