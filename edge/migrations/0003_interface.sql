-- The inputs and outputs a version's model file declares (JSON, core/formats/interface.ts); NULL for
-- versions published before it was recorded or without it.
ALTER TABLE versions ADD COLUMN interface TEXT;
