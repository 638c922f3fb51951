-- The append-only event log: every state change with its actor and evidence. Doubles as the audit trail.
-- `seq` orders events and is the paging cursor; `id` is the public, idempotent identity.
CREATE TABLE events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  model TEXT,
  actor TEXT NOT NULL,
  at INTEGER NOT NULL,
  details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_model_seq ON events (model, seq);
CREATE INDEX events_type_seq ON events (type, seq);
