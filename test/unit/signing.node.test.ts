/**
 * @module
 * Interoperability of edgefleet's bundles with OpenSSL-based signers and verifiers (Node's crypto, as
 * Python's `cryptography` under the `model_signing` package): a bundle signed with a DER signature
 * over the DSSE PAE and a pretty-printed statement verifies in edgefleet, and edgefleet's bundle
 * verifies with OpenSSL and the key's PEM as OpenSSL writes it.
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { fromBase64 } from '../../core/base64.ts'
import { signBundle, trustedKey, verifyBundle } from '../../core/signing/bundle.ts'
import { pae } from '../../core/signing/dsse.ts'
import { pemToDer } from '../../core/signing/pem.ts'
import { modelStatement } from '../../core/signing/statement.ts'

const dir = new URL('../vectors/signing/', import.meta.url)
const privatePem = readFileSync(new URL('publisher.key.pem', dir), 'utf8')
const publicPem = readFileSync(new URL('publisher.pub.pem', dir), 'utf8')
const files = [{ name: 'model.onnx', digest: createHash('sha256').update('model bytes').digest('hex') }]

describe('bundles and OpenSSL', () => {
  it('a bundle signed by OpenSSL (DER, indented statement, hint of the OpenSSL PEM) verifies', async () => {
    const payload = Buffer.from(JSON.stringify(await modelStatement('weather', files), null, 2))
    const sig = sign('sha256', pae('application/vnd.in-toto+json', payload), createPrivateKey(privatePem))
    const pem = createPublicKey(privatePem).export({ type: 'spki', format: 'pem' }) as string
    const bundle = {
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      verificationMaterial: { publicKey: { hint: createHash('sha256').update(pem).digest('hex') }, tlogEntries: [] },
      dsseEnvelope: {
        payload: payload.toString('base64'),
        payloadType: 'application/vnd.in-toto+json',
        signatures: [{ sig: sig.toString('base64'), keyid: '' }],
      },
    }
    const statement = await verifyBundle(bundle, [await trustedKey(pemToDer(publicPem, 'PUBLIC KEY')!)])
    expect(statement.resources).toEqual(files)
  })

  it("edgefleet's bundle verifies with OpenSSL, and its hint is the SHA-256 of OpenSSL's PEM", async () => {
    const bundle = await signBundle('weather', files, pemToDer(privatePem, 'PRIVATE KEY')!)
    const payload = fromBase64(bundle.dsseEnvelope.payload)!
    const der = Buffer.from(fromBase64(bundle.dsseEnvelope.signatures[0].sig)!)
    expect(verify('sha256', pae(bundle.dsseEnvelope.payloadType, payload), createPublicKey(publicPem), der)).toBe(true)
    expect(bundle.verificationMaterial.publicKey?.hint).toBe(createHash('sha256').update(publicPem).digest('hex'))
  })
})
