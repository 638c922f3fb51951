/**
 * @module
 * A version's interface as its model file declares it (derived by the publisher from the ONNX graph or
 * the tfjs model.json): the named input and output tensors with their element types and shapes.
 * Registry checks compare interfaces so a version that would break the app's inputs is not published
 * or rolled out by accident.
 */
import * as z from 'zod'

/** One tensor of a model file: element type as the file names it (`float32`, `int64`, `string`…); dims are sizes, or a name/null when dynamic. */
export const InterfaceTensor = z.strictObject({
  name: z.string().min(1).max(256),
  dtype: z
    .string()
    .regex(/^[a-z0-9_]{1,32}$/)
    .nullable(),
  shape: z
    .array(z.union([z.number().int().nonnegative(), z.string().max(128), z.null()]))
    .max(16)
    .nullable(),
})
export type InterfaceTensor = z.infer<typeof InterfaceTensor>

/** The inputs and outputs a model file declares. */
export const ModelInterface = z.strictObject({
  inputs: z.array(InterfaceTensor).max(256),
  outputs: z.array(InterfaceTensor).max(256),
})
export type ModelInterface = z.infer<typeof ModelInterface>
