/**
 * @module
 * ECDSA signatures in their two encodings: ASN.1 DER (`SEQUENCE { INTEGER r, INTEGER s }`), which
 * Sigstore bundles, OpenSSL and Python's `cryptography` write, and the fixed-width r ‖ s (IEEE P1363)
 * that WebCrypto signs and verifies.
 */

/** r ‖ s (each `size` bytes: 32 for P-256, 48 for P-384, 66 for P-521) from a DER signature; null when it is not one. */
export function derToRaw(der: Uint8Array, size = 32): Uint8Array<ArrayBuffer> | null {
  let i = 0
  const byte = () => (i < der.length ? der[i++] : -1)
  if (byte() !== 0x30) return null
  let len = byte()
  if (len === 0x81) len = byte()
  else if (len > 0x80 || len < 0) return null
  if (len !== der.length - i) return null
  const out = new Uint8Array(2 * size)
  for (let k = 0; k < 2; k++) {
    if (byte() !== 0x02) return null
    const n = byte()
    if (n < 1 || i + n > der.length) return null
    let v = der.subarray(i, i + n)
    i += n
    // A positive INTEGER: one leading zero only when the next byte has its top bit set.
    if (v[0] & 0x80) return null
    if (v.length > 1 && v[0] === 0 && !(v[1] & 0x80)) return null
    if (v[0] === 0 && v.length > 1) v = v.subarray(1)
    if (v.length > size) return null
    out.set(v, (k + 1) * size - v.length)
  }
  return i === der.length ? out : null
}

/** The DER encoding of an r ‖ s signature. */
export function rawToDer(raw: Uint8Array): Uint8Array {
  const half = raw.length / 2
  const int = (v: Uint8Array) => {
    let s = 0
    while (s < v.length - 1 && v[s] === 0) s++
    const body = v.subarray(s)
    return body[0] & 0x80 ? [0x02, body.length + 1, 0, ...body] : [0x02, body.length, ...body]
  }
  const r = int(raw.subarray(0, half))
  const s = int(raw.subarray(half))
  const len = r.length + s.length
  return new Uint8Array([0x30, ...(len >= 0x80 ? [0x81, len] : [len]), ...r, ...s])
}
