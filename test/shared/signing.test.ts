/**
 * @module
 * Model signing in every runtime edgefleet runs in (Node, workerd, Chromium): the OpenSSF model
 * signing statement in a DSSE envelope in a Sigstore bundle, signed with ECDSA P-256 and verified with
 * WebCrypto; every alteration is refused as `signature_error`.
 */
import { describe, expect, it } from 'vitest'
import { fromBase64, toBase64 } from '../../core/base64.ts'
import { isEdgefleetError } from '../../core/errors.ts'
import { parseBundle, signBundle, trustedKey, verifyBundle, type SigstoreBundle } from '../../core/signing/bundle.ts'
import { pae } from '../../core/signing/dsse.ts'
import { SigstoreBundle as BundleFormat } from '../../core/formats/sigstore-bundle.ts'
import { derToRaw, rawToDer } from '../../core/signing/ecdsa.ts'
import { derToPem, keyHint, pemToDer } from '../../core/signing/pem.ts'
import { modelStatement, readStatement, rootDigest, unsignedFiles } from '../../core/signing/statement.ts'
import { seededRandom } from '../../scripts/lib/random.ts'
import otherPub from '../vectors/signing/other.pub.pem?raw'
import publisherKey from '../vectors/signing/publisher.key.pem?raw'
import publisherPub from '../vectors/signing/publisher.pub.pem?raw'
import pySig101 from '../vectors/model-signing-py/v1.0.1-elliptic-key/model.sig?raw'
import pyFile101a from '../vectors/model-signing-py/v1.0.1-elliptic-key/signme-1?raw'
import pyFile101b from '../vectors/model-signing-py/v1.0.1-elliptic-key/signme-2?raw'
import pySig110 from '../vectors/model-signing-py/v1.1.0-elliptic-key/model.sig?raw'
import pyFile110a from '../vectors/model-signing-py/v1.1.0-elliptic-key/signme-1?raw'
import pyFile110b from '../vectors/model-signing-py/v1.1.0-elliptic-key/signme-2?raw'
import pyPub from '../vectors/model-signing-py/signing-key.pub.pem?raw'

const FILES = [
  { name: 'model.onnx', digest: 'a'.repeat(64) },
  { name: 'data/weights.bin', digest: '0123456789abcdef'.repeat(4) },
]
const spki = (pem: string) => pemToDer(pem, 'PUBLIC KEY')!
const pkcs8 = pemToDer(publisherKey, 'PRIVATE KEY')!

/** The `signature_error` message a promise rejects with (fails the test when it resolves). */
async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (e) {
    if (isEdgefleetError(e) && e.code === 'signature_error') return e.message
    throw e
  }
  throw new Error('expected signature_error')
}

/** A deep copy of a bundle with its payload's statement changed by `edit` (signature kept). */
function withStatement(b: SigstoreBundle, edit: (s: Record<string, unknown>) => void): SigstoreBundle {
  const statement = JSON.parse(new TextDecoder().decode(fromBase64(b.dsseEnvelope.payload)!))
  edit(statement)
  const copy = structuredClone(b)
  copy.dsseEnvelope.payload = toBase64(new TextEncoder().encode(JSON.stringify(statement)))
  return copy
}

describe('base64', () => {
  it('round-trips every length and refuses what is not base64', () => {
    const rand = seededRandom(1)
    for (let n = 0; n < 70; n++) {
      const bytes = Uint8Array.from({ length: n }, () => Math.floor(rand() * 256))
      expect(fromBase64(toBase64(bytes))).toEqual(bytes)
      expect(fromBase64(toBase64(bytes).replace(/=+$/, ''))).toEqual(bytes)
    }
    expect(fromBase64('-_8')).toEqual(new Uint8Array([251, 255]))
    for (const bad of ['A', 'AB C', 'AB*=', 'AQ=', 'AR==', '====', 'é'] as const) expect(fromBase64(bad)).toBeNull()
  })
})

describe('ECDSA signature encodings', () => {
  it('DER and r‖s convert both ways, including high bits and leading zeros', () => {
    const rand = seededRandom(2)
    for (let t = 0; t < 200; t++) {
      const raw = Uint8Array.from({ length: 64 }, () => Math.floor(rand() * 256))
      if (t % 4 === 0) raw.fill(0, 0, 1 + (t % 5))
      if (t % 3 === 0) raw[32] |= 0x80
      expect(derToRaw(rawToDer(raw))).toEqual(raw)
    }
  })

  it('refuses malformed DER', () => {
    const good = rawToDer(new Uint8Array(64).fill(7))
    expect(derToRaw(good.subarray(0, good.length - 1))).toBeNull()
    expect(derToRaw(new Uint8Array([0x31, ...good.subarray(1)]))).toBeNull()
    expect(derToRaw(new Uint8Array([0x30, 6, 0x02, 1, 0x80, 0x02, 1, 1]))).toBeNull() // negative r
    expect(derToRaw(new Uint8Array([0x30, 7, 0x02, 2, 0, 1, 0x02, 1, 1]))).toBeNull() // padded r
    expect(derToRaw(new Uint8Array([...good, 0]))).toBeNull()
  })
})

describe('keys', () => {
  it('the hint is the SHA-256 of the canonical PEM, whatever line endings the key was pasted with', async () => {
    const der = spki(publisherPub)
    expect(derToPem(der, 'PUBLIC KEY')).toBe(publisherPub)
    const pasted = spki(publisherPub.replace(/\n/g, '\r\n'))
    expect(await keyHint(pasted)).toBe(await keyHint(der))
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(publisherPub))
    expect(await keyHint(der)).toBe([...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join(''))
  })

  it('refuses what is not an ECDSA public key on P-256, P-384 or P-521', async () => {
    expect(await refusal(trustedKey(new Uint8Array([1, 2, 3])))).toMatch(/P-256, P-384 or P-521/)
    // An Ed25519 public key (SubjectPublicKeyInfo): a key, but not one model signing's key mode uses.
    const ed25519 = fromBase64('MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=')!
    expect(await refusal(trustedKey(ed25519))).toMatch(/ECDSA/)
  })
})

describe('the model signing statement', () => {
  it('lists resources sorted by name under a root digest over their digests', async () => {
    const s = (await modelStatement('weather', FILES)) as { subject: { digest: { sha256: string } }[] }
    const read = await readStatement(new TextEncoder().encode(JSON.stringify(s)))
    expect(read.model).toBe('weather')
    expect(read.resources.map((r) => r.name)).toEqual(['data/weights.bin', 'model.onnx'])
    expect(read.rootDigest).toBe(await rootDigest(read.resources))
    expect(s.subject[0].digest.sha256).toBe(read.rootDigest)
  })

  it('says which files it does not sign', () => {
    const statement = { resources: FILES }
    expect(unsignedFiles(statement, [{ path: 'model.onnx', sha256: 'a'.repeat(64) }])).toEqual([])
    expect(
      unsignedFiles(statement, [
        { path: 'model.onnx', sha256: 'b'.repeat(64) },
        { path: 'extra.bin', sha256: 'a'.repeat(64) },
      ]),
    ).toEqual([
      `model.onnx has sha256 ${'b'.repeat(64)}, the signature says ${'a'.repeat(64)}`,
      'extra.bin is not in the signed manifest',
    ])
  })
})

describe('bundles', () => {
  it('verifies with the publisher key, by hint among several trusted keys', async () => {
    const bundle = await signBundle('weather', FILES, pkcs8)
    expect(bundle.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json')
    const keys = [await trustedKey(spki(otherPub)), await trustedKey(spki(publisherPub))]
    const statement = await verifyBundle(JSON.parse(JSON.stringify(bundle)), keys)
    expect(statement.resources).toEqual([FILES[1], FILES[0]])
    // Without a hint every trusted key is tried.
    const noHint = structuredClone(bundle)
    delete noHint.verificationMaterial.publicKey
    expect((await verifyBundle(noHint, keys)).model).toBe('weather')
  })

  it('refuses another key, an altered statement, a forged hint and a broken signature', async () => {
    const bundle = await signBundle('weather', FILES, pkcs8)
    const publisher = [await trustedKey(spki(publisherPub))]
    const other = await trustedKey(spki(otherPub))
    expect(await refusal(verifyBundle(bundle, [other]))).toMatch(/another key/)
    const forged = structuredClone(bundle)
    forged.verificationMaterial.publicKey = { hint: other.hint }
    expect(await refusal(verifyBundle(forged, [other]))).toMatch(/does not verify/)
    const altered = withStatement(bundle, (s) => {
      ;(s.predicate as { resources: { digest: string }[] }).resources[0].digest = 'c'.repeat(64)
    })
    expect(await refusal(verifyBundle(altered, publisher))).toMatch(/does not verify/)
    const flipped = structuredClone(bundle)
    const sig = fromBase64(flipped.dsseEnvelope.signatures[0].sig)!
    sig[sig.length - 1] ^= 1
    flipped.dsseEnvelope.signatures[0].sig = toBase64(sig)
    expect(await refusal(verifyBundle(flipped, publisher))).toMatch(/does not verify/)
    expect(await refusal(verifyBundle(bundle, []))).toMatch(/another key/)
  })

  it('refuses a statement whose root digest does not match its resources, even when signed', async () => {
    // Signed over a payload whose subject digest is wrong: the signature holds, the statement does not.
    const statement = (await modelStatement('weather', FILES)) as { subject: { digest: { sha256: string } }[] }
    statement.subject[0].digest.sha256 = 'f'.repeat(64)
    const payload = new TextEncoder().encode(JSON.stringify(statement))
    const key = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])
    const raw = new Uint8Array(
      await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key, pae('application/vnd.in-toto+json', payload)),
    )
    const bundle = await signBundle('weather', FILES, pkcs8)
    bundle.dsseEnvelope.payload = toBase64(payload)
    bundle.dsseEnvelope.signatures = [{ sig: toBase64(rawToDer(raw)) }]
    expect(await refusal(verifyBundle(bundle, [await trustedKey(spki(publisherPub))]))).toMatch(/hash to/)
  })

  it.each([
    ['not an object', 'x', undefined],
    ['another media type', { mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.2' }, '/mediaType'],
    ['a certificate bundle', { verificationMaterial: { certificate: { rawBytes: 'AA==' } } }, '/verificationMaterial'],
    ['a message signature', { dsseEnvelope: undefined, messageSignature: {} }, '/dsseEnvelope'],
    ['another payload type', { dsseEnvelope: { payloadType: 'text/plain' } }, '/dsseEnvelope/payloadType'],
    ['a payload not in base64', { dsseEnvelope: { payload: 'not base64!' } }, '/dsseEnvelope/payload'],
    ['no signatures', { dsseEnvelope: { signatures: [] } }, '/dsseEnvelope/signatures'],
    ['a signature not in base64', { dsseEnvelope: { signatures: [{ sig: '%%' }] } }, '/dsseEnvelope/signatures/0/sig'],
    [
      'a hint that is a number',
      { verificationMaterial: { publicKey: { hint: 5 } } },
      '/verificationMaterial/publicKey',
    ],
  ])('refuses %s at its pointer', async (_name, patch, pointer) => {
    const bundle = await signBundle('weather', FILES, pkcs8)
    const merged =
      typeof patch === 'string'
        ? patch
        : {
            ...bundle,
            ...patch,
            ...('verificationMaterial' in patch ? { verificationMaterial: patch.verificationMaterial } : {}),
            ...('dsseEnvelope' in patch && patch.dsseEnvelope
              ? { dsseEnvelope: { ...bundle.dsseEnvelope, ...patch.dsseEnvelope } }
              : {}),
          }
    let caught: unknown
    try {
      parseBundle(merged)
    } catch (e) {
      caught = e
    }
    expect(isEdgefleetError(caught) && caught.code).toBe('signature_error')
    expect((caught as { pointer?: string }).pointer).toBe(pointer)
  })
})

describe('bundles made by the model_signing Python package (test/vectors/model-signing-py)', () => {
  const sha256 = async (text: string) =>
    [...new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)))]
      .map((b) => b.toString(16).padStart(2, '0'))
      .join('')
  const made = [
    { release: '1.0.1', sig: pySig101, files: { 'signme-1': pyFile101a, 'signme-2': pyFile101b } },
    { release: '1.1.0', sig: pySig110, files: { 'signme-1': pyFile110a, 'signme-2': pyFile110b } },
  ]

  it.each(made)('$release: verifies with its P-384 key and signs exactly the files of its folder', async (m) => {
    const key = await trustedKey(spki(pyPub))
    expect({ hash: key.hash, size: key.size }).toEqual({ hash: 'SHA-384', size: 48 })
    const bundle = JSON.parse(m.sig)
    // The edge takes it on publish as it is (`keyid: null` and `rawBytes` included).
    expect(BundleFormat.safeParse(bundle).success).toBe(true)
    const statement = await verifyBundle(bundle, [await trustedKey(spki(otherPub)), key])
    expect(statement.model).toBe(`v${m.release}-elliptic-key`)
    const files = await Promise.all(
      Object.entries(m.files).map(async ([path, text]) => ({ path, sha256: await sha256(text) })),
    )
    expect(statement.resources).toEqual(files.map((f) => ({ name: f.path, digest: f.sha256 })))
    expect(unsignedFiles(statement, files)).toEqual([])
    expect(unsignedFiles(statement, [{ path: 'signme-1', sha256: await sha256('signme-1 changed\n') }])).toHaveLength(1)
  })

  it('1.1.0 names its key by the same hint edgefleet computes; 1.0.1 carries the PEM instead', async () => {
    const hint = (await trustedKey(spki(pyPub))).hint
    expect(JSON.parse(pySig110).verificationMaterial.publicKey).toEqual({ hint })
    const older = JSON.parse(pySig101).verificationMaterial.publicKey
    expect(older.hint).toBeUndefined()
    expect(new TextDecoder().decode(fromBase64(older.rawBytes)!)).toBe(pyPub)
  })

  it.each(made)('$release: refused with another key, or with an altered statement or signature', async (m) => {
    const key = await trustedKey(spki(pyPub))
    const bundle = JSON.parse(m.sig) as SigstoreBundle
    expect(await refusal(verifyBundle(bundle, [await trustedKey(spki(otherPub))]))).toMatch(
      m.release === '1.1.0' ? /another key/ : /does not verify/,
    )
    const altered = withStatement(bundle, (s) => {
      ;(s.predicate as { resources: { digest: string }[] }).resources[1].digest = 'c'.repeat(64)
    })
    expect(await refusal(verifyBundle(altered, [key]))).toMatch(/does not verify/)
    const flipped = structuredClone(bundle)
    const sig = fromBase64(flipped.dsseEnvelope.signatures[0].sig)!
    sig[sig.length - 1] ^= 1
    flipped.dsseEnvelope.signatures[0].sig = toBase64(sig)
    expect(await refusal(verifyBundle(flipped, [key]))).toMatch(/does not verify/)
  })
})
