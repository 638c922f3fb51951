import * as z from 'zod'

/**
 * The error body every edge route returns on failure:
 * `{"error": {"code": "not_found", "message": "…", "pointer": "/files/0/sha256"}}`.
 */
export const ErrorBody = z.strictObject({
  error: z.strictObject({
    code: z.string().regex(/^[a-z][a-z0-9_]*$/),
    message: z.string(),
    // RFC 6901: empty (the whole body) or `/`-separated tokens with `~` escaped as `~0` and `/` as `~1`.
    pointer: z
      .string()
      .regex(/^(\/([^~/]|~[01])*)*$/, 'a JSON pointer (RFC 6901)')
      .optional(),
  }),
})
export type ErrorBody = z.infer<typeof ErrorBody>
