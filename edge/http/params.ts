import * as z from 'zod'

/**
 * An integer query or path parameter written as plain decimal digits, with no sign, no leading zero,
 * no exponent and no hex (`0x1`, `+1`, `01`, `1e2`, ` 1` are refused, where `Number()` would take
 * them): one spelling per value, so caches, logs and cursors agree on what was asked. At most 15
 * digits, so every accepted value is a safe integer.
 *
 * @example z.object({ version: decimalInt({ min: 1 }) })
 */
export function decimalInt(bounds: { min?: number; max?: number } = {}) {
  const min = bounds.min ?? 0
  const max = bounds.max ?? Number.MAX_SAFE_INTEGER
  return z
    .string()
    .regex(/^(0|[1-9][0-9]{0,14})$/, 'a decimal integer (digits only, no sign, leading zero or exponent)')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
}
