-- The publisher's Sigstore bundle over a version's files (JSON, core/formats/sigstore-bundle.ts);
-- NULL for unsigned versions.
ALTER TABLE versions ADD COLUMN sigstore_bundle TEXT;
