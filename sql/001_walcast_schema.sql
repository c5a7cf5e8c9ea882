-- walcast's own objects live in their own schema, never in the publication.
-- Idempotent: safe to run again with psql -f.
CREATE SCHEMA IF NOT EXISTS walcast;

-- Which numbered files of sql/ have been applied (walcast migrate keeps it).
CREATE TABLE IF NOT EXISTS walcast.migrations (
  name        text PRIMARY KEY,
  applied_at  timestamptz NOT NULL DEFAULT now()
);

-- The event history. An event id is (commit_lsn, seq): the commit LSN of the source
-- transaction and the event's ordinal within it. Inserts are idempotent on the id.
CREATE TABLE IF NOT EXISTS walcast.events (
  commit_lsn    pg_lsn      NOT NULL,
  seq           integer     NOT NULL,
  topics        text[]      NOT NULL,
  type          text        NOT NULL,
  payload       jsonb       NOT NULL,
  committed_at  timestamptz NOT NULL,
  PRIMARY KEY (commit_lsn, seq)
);

-- Serves "events of topic T after id X, in order": one row per (topic, event).
CREATE TABLE IF NOT EXISTS walcast.event_topics (
  topic       text    NOT NULL,
  commit_lsn  pg_lsn  NOT NULL,
  seq         integer NOT NULL,
  PRIMARY KEY (topic, commit_lsn, seq)
);

-- One-row bookkeeping: the prune horizon. Every event with an id at or below it may be
-- gone, so a resume from an older id cannot be proven complete and gets `reset`.
CREATE TABLE IF NOT EXISTS walcast.horizon (
  singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  commit_lsn  pg_lsn  NOT NULL,
  seq         integer NOT NULL,
  pruned_at   timestamptz NOT NULL DEFAULT now()
);

-- Ranges of the stream that walcast knows it missed (a slot lost or recreated).
-- A resume whose position lies before a gap's end gets `reset`.
CREATE TABLE IF NOT EXISTS walcast.gaps (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  after_lsn   pg_lsn NOT NULL,
  until_lsn   pg_lsn NOT NULL,
  reason      text   NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now()
);
