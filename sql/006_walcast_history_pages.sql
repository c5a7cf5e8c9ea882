-- Replay pages (src/history/store.ts readSince, readSinceEach): for each topic of
-- `page_topics`, its events with an id greater than (after_lsn, after_seq), at most
-- `page_limit` of them, in id order, each as its `event` frame for that topic, assembled
-- here (src/history/page-frame.ts: byte for byte what eventFrameJson makes of the
-- read-back event). Row `page` is the topic's ordinal in `page_topics` (1-based).
--
-- A page must cost what it returns, not what is left of the topic or the history, with
-- whatever statistics the tables have (a burst just written, a fresh install: the
-- planner once believed a topic held a few dozen rows, bitmap-scanned every remaining
-- one and sorted them, for each page — a long replay was quadratic; bench/findings.md).
-- The body is planned without the arguments' values (a function with SET clauses is not
-- inlined), so the plan is pinned rather than left to estimates: each topic's LIMIT on
-- its own range of the topic index, then one primary-key probe per row. The SET clauses
-- hold for the call only; a call is one round trip, where SET LOCAL needed a transaction.
-- Idempotent: safe to run again with psql -f.
CREATE OR REPLACE FUNCTION walcast.history_pages(page_topics text[], after_lsn pg_lsn, after_seq integer, page_limit integer)
RETURNS TABLE (page bigint, frame text, seq integer, type text, topics text)
LANGUAGE sql STABLE
SET enable_bitmapscan = off
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
  SELECT q.i,
    '{"op":"event","id":"' || lpad(to_hex((e.commit_lsn - '0/0'::pg_lsn)::bigint), 16, '0') || '-' || lpad(to_hex(e.seq), 8, '0')
      || '","topic":' || to_json(q.topic)::text || ',"type":' || to_json(e.type)::text || ',"data":' || e.payload::text
      || ',"ts":"' || to_char(e.committed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') || '","lsn":"' || e.commit_lsn::text || '"}',
    e.seq, e.type, array_to_json(e.topics)::text
  FROM unnest(page_topics) WITH ORDINALITY AS q(topic, i)
  CROSS JOIN LATERAL (
    SELECT et.commit_lsn, et.seq FROM walcast.event_topics et
    WHERE et.topic = q.topic AND (et.commit_lsn, et.seq) > (after_lsn, after_seq)
    ORDER BY et.commit_lsn, et.seq
    LIMIT page_limit
  ) t
  JOIN walcast.events e ON e.commit_lsn = t.commit_lsn AND e.seq = t.seq
  ORDER BY q.i, t.commit_lsn, t.seq
$$;
