-- Retraining runs (experiment tracking): one row per run the retrainer recorded. The run's body is
-- JSON (core/formats/run.ts); status, trigger and version are columns to filter and check on.
CREATE TABLE runs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  model TEXT NOT NULL REFERENCES models (name),
  status TEXT NOT NULL,
  trigger TEXT NOT NULL,
  version INTEGER,
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL
);
CREATE INDEX runs_model_seq ON runs (model, seq);
CREATE INDEX runs_model_trigger ON runs (model, trigger);
