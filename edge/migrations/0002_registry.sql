-- The model registry. Versions are immutable once inserted; only deprecated_at ever changes.
CREATE TABLE models (
  name TEXT PRIMARY KEY,
  task TEXT NOT NULL,
  format TEXT NOT NULL,
  signature TEXT,
  description TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL
);

CREATE TABLE versions (
  model TEXT NOT NULL REFERENCES models (name),
  version INTEGER NOT NULL,
  files TEXT NOT NULL,
  signature TEXT,
  profile TEXT,
  metrics TEXT NOT NULL DEFAULT '{}',
  lineage TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  deprecated_at INTEGER,
  PRIMARY KEY (model, version)
);

CREATE TABLE aliases (
  model TEXT NOT NULL REFERENCES models (name),
  alias TEXT NOT NULL,
  version INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  updated_by TEXT NOT NULL,
  PRIMARY KEY (model, alias),
  FOREIGN KEY (model, version) REFERENCES versions (model, version)
);

-- API tokens and app keys: only the SHA-256 of the secret is kept.
CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  scopes TEXT NOT NULL,
  origins TEXT,
  secret_hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  last_used_at INTEGER,
  revoked_at INTEGER
);
