-- The peer's feed: a trigger that turns each released milestone into a NOTIFY on commit.
-- This is what most teams write first; NOTIFY payloads are limited to 8000 bytes, are
-- not stored anywhere, and are lost for a listener that is not connected at commit time.
CREATE OR REPLACE FUNCTION public.peer_notify_milestone() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status = 'released' AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM NEW.status) THEN
    PERFORM pg_notify('escrow_events', json_build_object(
      'id', lpad(NEW.id::text, 20, '0'),
      'topic', 'escrow:' || NEW.escrow_id,
      'type', 'escrow:milestone_released',
      'data', json_build_object(
        'escrowId', NEW.escrow_id::text,
        'milestoneId', NEW.id::text,
        'amount', NEW.amount::text,
        'currency', NEW.currency,
        'releasedAt', NEW.released_at),
      'ts', now())::text);
  END IF;
  RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS peer_notify_milestone ON public.milestones;
CREATE TRIGGER peer_notify_milestone AFTER INSERT OR UPDATE ON public.milestones
  FOR EACH ROW EXECUTE FUNCTION public.peer_notify_milestone();
