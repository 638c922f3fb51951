-- A retrain.requested event produces at most one completed run per model, enforced by the database
-- itself: the route's read-then-insert alone let two concurrent runs of one trigger both complete.
CREATE UNIQUE INDEX runs_completed_trigger ON runs (model, trigger) WHERE status = 'completed' AND trigger <> 'manual';
