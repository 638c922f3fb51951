/**
 * @module
 * Variants of a model version (docs/variants.md): several builds of the same model (dtype × backend)
 * in one version, each a subset of its files, picked per device by the rules a variant requires.
 */
import * as z from 'zod'
import { Backend, FilePath } from './common.ts'

/** A variant's name: what assignments, telemetry slices and `exclude` lists call it. */
export const VariantName = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9_-]{0,31}$/,
    'a variant name of [a-z0-9_-], 1 to 32 characters, starting with a letter or digit',
  )
export type VariantName = z.infer<typeof VariantName>

/** What a device must have for a variant: every condition given must hold. */
export const VariantRequires = z
  .strictObject({
    /** A usable WebGPU adapter (a software one counts as none). */
    webgpu: z.boolean().optional(),
    /** WebGPU's `shader-f16`. */
    f16: z.boolean().optional(),
    /** At least this many GiB of `navigator.deviceMemory`; a device that does not say has none. */
    minDeviceMemory: z.number().positive().max(1024).optional(),
    /** The variant runs on these backends only; the device must be able to run one of them. */
    backends: z
      .array(Backend)
      .min(1)
      .max(4)
      .refine((b) => new Set(b).size === b.length, 'backends must be unique')
      .optional(),
  })
  .refine((r) => Object.keys(r).length > 0, 'an empty requires: leave it out for the default variant')
export type VariantRequires = z.infer<typeof VariantRequires>

/** One variant as published: its name, the version's files it is made of, and what it requires. */
export const Variant = z.strictObject({
  name: VariantName,
  files: z
    .array(FilePath)
    .min(1)
    .max(256)
    .refine((fs) => new Set(fs).size === fs.length, 'a variant lists each file once'),
  requires: VariantRequires.optional(),
})
export type Variant = z.infer<typeof Variant>

/** A version's variants, in the order they are tried: the first a device fits wins; the last is the default. */
export const Variants = z.array(Variant).min(1).max(16)
export type Variants = z.infer<typeof Variants>

/** Pairs `<version>:<variant>` a device asks the edge not to give it again (`exclude=3:fp16,3:q8`). */
export const VariantExclusion = z.strictObject({ version: z.number().int().positive(), variant: VariantName })
export type VariantExclusion = z.infer<typeof VariantExclusion>
