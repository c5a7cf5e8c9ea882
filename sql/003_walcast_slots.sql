-- The replication slots walcast has streamed from. A slot listed here that the server no
-- longer has was dropped or lost while walcast was stopped: the changes since are gone,
-- and walcast says so (and records a gap) instead of silently starting on a new slot.
-- Idempotent: safe to run again with psql -f.
CREATE TABLE IF NOT EXISTS walcast.slots (
  name        text PRIMARY KEY,
  first_used  timestamptz NOT NULL DEFAULT now()
);
