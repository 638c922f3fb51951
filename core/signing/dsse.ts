/**
 * @module
 * DSSE (Dead Simple Signing Envelope) v1: what is signed is the pre-authentication encoding of the
 * payload and its type, never the payload alone, so a signature cannot be replayed on another type.
 */

/** The payload type of an in-toto statement inside a DSSE envelope. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json'

const encoder = new TextEncoder()

/**
 * PAE(type, body) = "DSSEv1" SP len(type) SP type SP len(body) SP body, lengths in bytes as ASCII decimals.
 *
 * @example pae('t', new Uint8Array([104, 105])) // the bytes of 'DSSEv1 1 t 2 hi'
 */
export function pae(payloadType: string, payload: Uint8Array): Uint8Array<ArrayBuffer> {
  const type = encoder.encode(payloadType)
  const head = encoder.encode(`DSSEv1 ${type.length} ${payloadType} ${payload.length} `)
  const out = new Uint8Array(head.length + payload.length)
  out.set(head)
  out.set(payload, head.length)
  return out
}
