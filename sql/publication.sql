-- The publication walcast reads: exactly the tracked tables, never walcast's own schema.
-- These are the escrow catalog's tables (the default WALCAST_CATALOG); another catalog
-- lists its own (walcast publication show prints them).
-- walcast creates it at start-up when it is missing (name from WALCAST_PUBLICATION,
-- default walcast); a DBA who prefers to create it by hand runs this file:
--   psql "$DATABASE_URL" -f sql/publication.sql
CREATE PUBLICATION walcast FOR TABLE
  public.escrows, public.escrow_parties, public.milestones, public.disputes, public.notifications;
