-- Id epochs. An event id is the commit LSN of its transaction (plus its position in it),
-- so ids increase as long as the server's WAL does. A server whose WAL is behind the
-- history (a failover to a lagging replica, a point-in-time restore) would hand out new
-- LSNs below ids already published: walcast then adds `id_offset` to every commit LSN
-- from `from_lsn` on, so new ids sort after every stored one, and records a gap
-- (reason 'server_behind') so clients are told `reset`. The newest row is in force.
-- Idempotent: safe to run again with psql -f.
CREATE TABLE IF NOT EXISTS walcast.epochs (
  id           bigserial PRIMARY KEY,
  from_lsn     pg_lsn NOT NULL,
  id_offset    numeric(20, 0) NOT NULL CHECK (id_offset >= 0),
  recorded_at  timestamptz NOT NULL DEFAULT now()
);
