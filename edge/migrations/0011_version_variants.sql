-- A version's variants (JSON, core/formats/variants.ts): builds of the model for different devices,
-- each a subset of the version's files. NULL for versions published without them.
ALTER TABLE versions ADD COLUMN variants TEXT;
