-- A least-privilege role for walcast, for DBAs to run once as a superuser:
--   psql "$ADMIN_URL" -v password="'choose-a-password'" -f sql/role.sql
-- It may stream changes (REPLICATION), read the tracked tables, and write only its own
-- schema. The publication and the schema are created by an owner beforehand
-- (sql/00*.sql, the catalog's schema and sql/publication.sql), or by walcast itself when
-- run as their owner. The GRANT SELECT below names the escrow catalog's tables (the
-- default WALCAST_CATALOG): name your catalog's tracked tables instead.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'walcast') THEN
    CREATE ROLE walcast WITH LOGIN REPLICATION;
  END IF;
END
$$;
ALTER ROLE walcast WITH LOGIN REPLICATION PASSWORD :password;

GRANT USAGE ON SCHEMA public TO walcast;
GRANT SELECT ON public.escrows, public.escrow_parties, public.milestones,
                public.disputes, public.notifications TO walcast;

GRANT USAGE, CREATE ON SCHEMA walcast TO walcast;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA walcast TO walcast;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA walcast TO walcast;
ALTER DEFAULT PRIVILEGES IN SCHEMA walcast GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO walcast;
-- Replay pages are read through walcast.history_pages (sql/006, sql/007): EXECUTE is PUBLIC's by
-- default; granted here too for databases whose DBA revoked that default.
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA walcast TO walcast;
ALTER DEFAULT PRIVILEGES IN SCHEMA walcast GRANT EXECUTE ON FUNCTIONS TO walcast;
