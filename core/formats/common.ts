import * as z from 'zod'

/** A model name: a slug of 1–64 lowercase letters, digits and dashes. */
export const ModelName = z.string().regex(/^[a-z0-9-]{1,64}$/, 'a slug of [a-z0-9-], 1 to 64 characters')

/** A lowercase hex SHA-256 digest. */
export const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hex characters')

/** Milliseconds since the Unix epoch, UTC. */
export const EpochMs = z.number().int().nonnegative()

/** A non-negative integer count. */
export const Count = z.number().int().nonnegative()

/** Rollout arms. */
export const Arm = z.enum(['baseline', 'candidate'])
export type Arm = z.infer<typeof Arm>

/** The role a model version plays on a device. */
export const Role = z.enum(['primary', 'shadow'])
export type Role = z.infer<typeof Role>

/** Model file formats the SDK can run. */
export const ModelFormat = z.enum(['onnx', 'tfjs-layers', 'tfjs-graph'])
export type ModelFormat = z.infer<typeof ModelFormat>

/** Execution backends across both engines. */
export const Backend = z.enum(['webgpu', 'webgl', 'wasm', 'cpu'])
export type Backend = z.infer<typeof Backend>
