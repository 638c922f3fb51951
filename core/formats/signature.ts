import * as z from 'zod'

/**
 * A model's signature: what goes in and what comes out.
 *
 * Tabular models take records; the SDK featurizes them in the declared order into one float32
 * tensor `[batch, width]` (numeric features scaled as declared, categoricals one-hot or as index).
 * Tensor models take named tensors as they are.
 */
const FeatureName = z.string().min(1).max(128)

/**
 * A refinement rejecting a repeated entry, at its second occurrence: each feature name, category, label
 * and tensor name selects one slot (an input column, a one-hot position, a class, a tensor).
 */
function unique<T>(key: (item: T) => string, field?: string) {
  return (items: readonly T[], ctx: z.RefinementCtx) => {
    const seen = new Set<string>()
    for (let i = 0; i < items.length; i++) {
      const k = key(items[i])
      if (seen.has(k))
        return ctx.addIssue({
          code: 'custom',
          message: `duplicate ${JSON.stringify(k)}`,
          path: field === undefined ? [i] : [i, field],
        })
      seen.add(k)
    }
  }
}
const itself = (s: string) => s

const NumericTransform = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('standardize'), mean: z.number(), std: z.number().positive() }),
  z
    .strictObject({ kind: z.literal('minmax'), min: z.number(), max: z.number() })
    .refine((t) => t.max > t.min, { message: 'max must exceed min', path: ['max'] }),
])

/**
 * The values a numeric feature may take; data quality counts a value outside them as out of range
 * instead of the reference's widened [min, max] (core/telemetry/quality.ts).
 */
const NumericBounds = z
  .strictObject({
    min: z.number().refine(Number.isFinite).optional(),
    max: z.number().refine(Number.isFinite).optional(),
  })
  .refine((b) => b.min === undefined || b.max === undefined || b.min <= b.max, {
    message: 'min must not exceed max',
    path: ['max'],
  })

/** A numeric input feature; `fill` replaces a missing value before scaling (default: the transform's centre, else 0). */
export const NumericFeature = z.strictObject({
  name: FeatureName,
  type: z.literal('numeric'),
  transform: NumericTransform.optional(),
  fill: z.number().optional(),
  bounds: NumericBounds.optional(),
})

/** A categorical input feature; unknown and missing values encode as all zeros (one-hot) or -1 (index). */
export const CategoricalFeature = z.strictObject({
  name: FeatureName,
  type: z.literal('categorical'),
  categories: z.array(z.string()).min(1).max(1024).superRefine(unique(itself)),
  encoding: z.enum(['onehot', 'index']).default('onehot'),
})

export const TabularFeature = z.discriminatedUnion('type', [NumericFeature, CategoricalFeature])
export type TabularFeature = z.infer<typeof TabularFeature>

export const TensorDtype = z.enum(['float32', 'float16', 'int32', 'int64', 'uint8', 'int8', 'bool'])
export type TensorDtype = z.infer<typeof TensorDtype>

/** A tensor: dims are sizes, or a name/null for a dynamic dimension. */
export const TensorSpec = z.strictObject({
  name: z.string().min(1).max(256),
  dtype: TensorDtype,
  shape: z.array(z.union([z.number().int().nonnegative(), z.string(), z.null()])).max(16),
  labels: z.array(z.string()).max(100_000).superRefine(unique(itself)).optional(),
})
export type TensorSpec = z.infer<typeof TensorSpec>

/** What a tabular model returns: class scores (with labels) or a regression value. */
export const TabularOutput = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('classes'),
    name: z.string().min(1).optional(),
    labels: z.array(z.string()).min(2).max(10_000).superRefine(unique(itself)),
    activation: z.enum(['softmax', 'sigmoid', 'none']).default('none'),
  }),
  z.strictObject({ kind: z.literal('regression'), name: z.string().min(1).optional() }),
])

/** The signature of a model. */
export const Signature = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('tabular'),
    features: z
      .array(TabularFeature)
      .min(1)
      .max(1024)
      .superRefine(unique((f) => f.name, 'name')),
    input: z.strictObject({ name: z.string().min(1) }).optional(),
    output: TabularOutput,
  }),
  z.strictObject({
    kind: z.literal('tensor'),
    inputs: z
      .array(TensorSpec)
      .min(1)
      .max(64)
      .superRefine(unique((t) => t.name, 'name')),
    outputs: z
      .array(TensorSpec)
      .min(1)
      .max(64)
      .superRefine(unique((t) => t.name, 'name')),
  }),
])
export type Signature = z.infer<typeof Signature>
