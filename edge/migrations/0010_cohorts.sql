-- Cohorts: the allow-list of cohort labels a model declares (one JSON array per model), and the
-- cohorts pinned to a version. A pin points at a live version; deprecating a pinned version is refused.
CREATE TABLE cohorts (
  model TEXT PRIMARY KEY REFERENCES models (name),
  name TEXT NOT NULL,
  labels TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  updated_by TEXT NOT NULL
);

CREATE TABLE cohort_pins (
  model TEXT NOT NULL REFERENCES models (name),
  cohort TEXT NOT NULL,
  version INTEGER NOT NULL,
  pinned_at INTEGER NOT NULL,
  pinned_by TEXT NOT NULL,
  PRIMARY KEY (model, cohort),
  FOREIGN KEY (model, version) REFERENCES versions (model, version)
);
