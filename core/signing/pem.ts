/**
 * @module
 * PEM keys: the base64 DER between `-----BEGIN <label>-----` and `-----END <label>-----`. The key hint
 * of a Sigstore bundle in key mode is the SHA-256 of the public key's canonical PEM (64-character
 * lines, LF, a final newline), as OpenSSL and Python's `cryptography` write it, so a key pasted with
 * CRLF or other line lengths still has the same hint.
 */
import { fromBase64, toBase64 } from '../base64.ts'
import { toHex } from '../hex.ts'

/** The DER bytes of the first PEM block labelled `label` in `text`, or null. */
export function pemToDer(text: string, label: string): Uint8Array<ArrayBuffer> | null {
  const m = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(text)
  return m ? fromBase64(m[1].replace(/\s+/g, '')) : null
}

/** The canonical PEM text of DER bytes. */
export function derToPem(der: Uint8Array, label: string): string {
  const b64 = toBase64(der)
  const lines = b64.match(/.{1,64}/g) ?? []
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`
}

/** The hint of a public key (SubjectPublicKeyInfo DER): SHA-256 hex of its canonical PEM. */
export async function keyHint(spki: Uint8Array<ArrayBuffer>): Promise<string> {
  const pem = new TextEncoder().encode(derToPem(spki, 'PUBLIC KEY'))
  return toHex(await crypto.subtle.digest('SHA-256', pem))
}
