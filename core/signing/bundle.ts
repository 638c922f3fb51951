/**
 * @module
 * Sigstore bundles (v0.3, JSON) in key mode, as the OpenSSF `model_signing` package writes them with
 * an elliptic-curve key: a DSSE envelope around the model signing statement, signed with ECDSA (DER;
 * P-256 over SHA-256 when edgefleet signs; P-384 over SHA-384 and P-521 over SHA-512 verified too, the
 * curves and hashes that package uses), and `verificationMaterial.publicKey.hint` = SHA-256 of the
 * signer's public key PEM (bundles of its releases before the hint carry the key's PEM as `rawBytes`
 * instead, and are checked against every trusted key). No transparency log entry: trust comes from the
 * keys a device is given, not from Rekor.
 */
import { fromBase64, toBase64 } from '../base64.ts'
import { EdgefleetError } from '../errors.ts'
import type { SigstoreBundle } from '../formats/sigstore-bundle.ts'
import { IN_TOTO_PAYLOAD_TYPE, pae } from './dsse.ts'
import { derToRaw, rawToDer } from './ecdsa.ts'
import { keyHint } from './pem.ts'
import { modelStatement, readStatement, StatementError, type ModelStatement, type SignedResource } from './statement.ts'

export const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json'
/** The largest bundle accepted, in bytes of JSON (a statement of 256 files is about 40 KB). */
export const MAX_BUNDLE_BYTES = 256 * 1024

export type { SigstoreBundle }

/** A WebCrypto key (named without the DOM library, which core does not assume). */
type CryptoKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>

/** A public key a device trusts, with its bundle hint, the hash its curve signs with and the width of r and s. */
export interface TrustedKey {
  hint: string
  key: CryptoKey
  hash: 'SHA-256' | 'SHA-384' | 'SHA-512'
  size: number
}

/** The curves of key-mode model signing, each with the hash the `model_signing` package pairs with it. */
const CURVES = [
  { namedCurve: 'P-256', hash: 'SHA-256', size: 32 },
  { namedCurve: 'P-384', hash: 'SHA-384', size: 48 },
  { namedCurve: 'P-521', hash: 'SHA-512', size: 66 },
] as const
const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const
const SIGN_PARAMS = { name: 'ECDSA', hash: 'SHA-256' } as const
const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x)
const fail = (message: string, pointer?: string): never => {
  throw new EdgefleetError('signature_error', message, pointer === undefined ? {} : { pointer })
}

/**
 * Imports an ECDSA public key (SubjectPublicKeyInfo DER) on P-256, P-384 or P-521 for verifying
 * bundles (P-521 where the runtime's WebCrypto has it: Chromium and Node do, workerd does not).
 */
export async function trustedKey(spki: Uint8Array<ArrayBuffer>): Promise<TrustedKey> {
  for (const { namedCurve, hash, size } of CURVES) {
    let key: CryptoKey
    try {
      key = await crypto.subtle.importKey('spki', spki, { name: 'ECDSA', namedCurve }, true, ['verify'])
    } catch {
      continue // another curve, or not a key at all
    }
    return { hint: await keyHint(spki), key, hash, size }
  }
  return fail('a trusted key must be an ECDSA public key on P-256, P-384 or P-521 (PEM "PUBLIC KEY")')
}

/**
 * Checks the shape of a bundle: media type, key mode, a DSSE envelope of an in-toto payload with at
 * least one signature, all in base64. Throws `signature_error` with the pointer of what is wrong.
 */
export function parseBundle(x: unknown): SigstoreBundle {
  if (!isObject(x)) return fail('a Sigstore bundle is a JSON object')
  if (x.mediaType !== BUNDLE_MEDIA_TYPE)
    fail(`mediaType must be ${BUNDLE_MEDIA_TYPE}, not ${JSON.stringify(x.mediaType)}`, '/mediaType')
  const vm = x.verificationMaterial
  if (!isObject(vm)) return fail('verificationMaterial is missing', '/verificationMaterial')
  if (vm.certificate !== undefined || vm.x509CertificateChain !== undefined)
    fail('certificate (keyless) bundles are not supported: sign with a key', '/verificationMaterial')
  if (vm.publicKey !== undefined) {
    const hint = isObject(vm.publicKey) ? vm.publicKey.hint : undefined
    if (!isObject(vm.publicKey) || !(hint === undefined || hint === null || typeof hint === 'string'))
      fail('publicKey.hint must be a string', '/verificationMaterial/publicKey')
  }
  const env = x.dsseEnvelope
  if (!isObject(env)) return fail('dsseEnvelope is missing: only DSSE bundles sign a model', '/dsseEnvelope')
  if (env.payloadType !== IN_TOTO_PAYLOAD_TYPE)
    fail(`payloadType must be ${IN_TOTO_PAYLOAD_TYPE}`, '/dsseEnvelope/payloadType')
  if (typeof env.payload !== 'string' || fromBase64(env.payload) === null)
    fail('payload must be base64', '/dsseEnvelope/payload')
  const sigs = env.signatures
  if (!Array.isArray(sigs) || sigs.length === 0 || sigs.length > 8)
    fail('the envelope needs 1 to 8 signatures', '/dsseEnvelope/signatures')
  ;(sigs as unknown[]).forEach((s, i) => {
    if (!isObject(s) || typeof s.sig !== 'string' || fromBase64(s.sig) === null)
      fail('sig must be base64', `/dsseEnvelope/signatures/${i}/sig`)
  })
  return x as unknown as SigstoreBundle
}

/** The statement a bundle carries, read but not verified (to show who signed what). */
export async function bundleStatement(bundle: SigstoreBundle): Promise<ModelStatement> {
  try {
    return await readStatement(fromBase64(bundle.dsseEnvelope.payload)!)
  } catch (e) {
    if (e instanceof StatementError) return fail(e.message, '/dsseEnvelope/payload')
    throw e
  }
}

/**
 * Verifies a bundle against the trusted keys: the key its hint names (every trusted key when it has
 * no hint) must have signed the DSSE envelope; the statement must be a model signing v1.0 manifest
 * whose root digest matches its resources. Returns the statement; throws `signature_error`.
 */
export async function verifyBundle(x: unknown, trusted: readonly TrustedKey[]): Promise<ModelStatement> {
  const bundle = parseBundle(x)
  const hint = bundle.verificationMaterial.publicKey?.hint ?? null
  const keys = hint ? trusted.filter((k) => k.hint === hint) : trusted
  if (keys.length === 0)
    fail(
      hint ? `signed by another key (hint ${hint.slice(0, 16)}…), not one this device trusts` : 'no trusted key is set',
    )
  const payload = fromBase64(bundle.dsseEnvelope.payload)!
  const message = pae(bundle.dsseEnvelope.payloadType, payload)
  let valid = false
  for (const s of bundle.dsseEnvelope.signatures) {
    const der = fromBase64(s.sig)!
    for (const k of keys) {
      const raw = derToRaw(der, k.size)
      if (raw !== null && (await crypto.subtle.verify({ name: 'ECDSA', hash: k.hash }, k.key, raw, message)))
        valid = true
    }
  }
  if (!valid) fail('the signature does not verify with the trusted key: the manifest or the bundle was altered')
  return bundleStatement(bundle)
}

/**
 * Signs a model's files with an ECDSA P-256 private key (PKCS#8 DER) into a bundle the OpenSSF
 * `model_signing` package verifies in key mode (`verify key --public_key`).
 */
export async function signBundle(
  model: string,
  files: readonly SignedResource[],
  pkcs8: Uint8Array<ArrayBuffer>,
): Promise<SigstoreBundle> {
  const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, ECDSA_P256, true, ['sign'])
  const jwk = (await crypto.subtle.exportKey('jwk', privateKey)) as { kty: string; crv: string; x: string; y: string }
  const { kty, crv, x, y } = jwk
  const publicKey = await crypto.subtle.importKey('jwk', { kty, crv, x, y }, ECDSA_P256, true, ['verify'])
  const spki = new Uint8Array((await crypto.subtle.exportKey('spki', publicKey)) as ArrayBuffer)
  const payload = new TextEncoder().encode(JSON.stringify(await modelStatement(model, files)))
  const raw = new Uint8Array(await crypto.subtle.sign(SIGN_PARAMS, privateKey, pae(IN_TOTO_PAYLOAD_TYPE, payload)))
  return {
    mediaType: BUNDLE_MEDIA_TYPE,
    verificationMaterial: { publicKey: { hint: await keyHint(spki) }, tlogEntries: [] },
    dsseEnvelope: {
      payload: toBase64(payload),
      payloadType: IN_TOTO_PAYLOAD_TYPE,
      signatures: [{ sig: toBase64(rawToDer(raw)), keyid: '' }],
    },
  }
}
