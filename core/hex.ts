/**
 * @module
 * Bytes as lowercase hexadecimal: digests, ids and signatures are written this way everywhere.
 */

/** Lowercase hex of the bytes, two digits each. @example toHex(new Uint8Array([0, 255])) // '00ff' */
export function toHex(bytes: ArrayBuffer | Uint8Array): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)
  let out = ''
  for (const b of view) out += b.toString(16).padStart(2, '0')
  return out
}
