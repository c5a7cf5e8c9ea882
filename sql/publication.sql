-- The publication walcast reads: exactly the tracked tables, never walcast's own schema.
-- walcast creates it at start-up when it is missing (name from WALCAST_PUBLICATION,
-- default walcast); a DBA who prefers to create it by hand runs this file:
--   psql "$DATABASE_URL" -f sql/publication.sql
CREATE PUBLICATION walcast FOR TABLE
  public.escrows, public.escrow_parties, public.milestones, public.disputes, public.notifications;
