-- The state of each conflated topic (invariant I17, docs/catalogs.md#conflation): for
-- each (topic, key) the id of its latest event, kept by the same statement that appends
-- the events (src/history/store.ts), so serving a book costs its levels, not its history.
-- `key` is the JSON array of the `data` fields the catalog's key spec names.
-- Idempotent: safe to run again with psql -f.
CREATE TABLE IF NOT EXISTS walcast.latest_per_key (
  topic       text    NOT NULL,
  key         jsonb   NOT NULL,
  commit_lsn  pg_lsn  NOT NULL,
  seq         integer NOT NULL,
  PRIMARY KEY (topic, key)
);
-- A topic's state in id order, paged (readLatestPerKey).
CREATE INDEX IF NOT EXISTS latest_per_key_topic_id ON walcast.latest_per_key (topic, commit_lsn, seq);
-- "Is this event some key's latest?": pruning never removes one.
CREATE INDEX IF NOT EXISTS latest_per_key_id ON walcast.latest_per_key (commit_lsn, seq);

-- Which conflated patterns latest_per_key holds, under which key spec: a pattern missing
-- here, or listed with another key, is (re)built from the history at start-up.
CREATE TABLE IF NOT EXISTS walcast.latest_per_key_specs (
  pattern    text PRIMARY KEY,
  key        text NOT NULL,
  filled_at  timestamptz NOT NULL DEFAULT now()
);
