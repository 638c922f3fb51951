/**
 * @module
 * Publisher keys on the publisher's machine: ECDSA P-256 key pairs in PEM, created by `edgefleet keys
 * create`, read by `publish --sign` (private key, PKCS#8 or SEC1 "EC PRIVATE KEY") and by `verify`
 * (public key). The private key never leaves this machine: only bundles signed with it do.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { EdgefleetError } from '../core/errors.ts'
import { keyHint } from '../core/signing/pem.ts'

/** Reads a PEM file, with `bad_request` naming the file when it is missing. */
async function readPem(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (e) {
    throw new EdgefleetError('bad_request', `${path}: cannot read the key file (${(e as Error).message})`, { cause: e })
  }
}

function requireP256(key: KeyObject, path: string): void {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
    throw new EdgefleetError(
      'bad_request',
      `${path}: an ECDSA P-256 key is needed (this is ${key.asymmetricKeyType ?? 'unknown'}${key.asymmetricKeyDetails?.namedCurve ? ` ${key.asymmetricKeyDetails.namedCurve}` : ''}); create one with \`edgefleet keys create\``,
    )
}

/** The private key of a PEM file as PKCS#8 DER, for signing. */
export async function readPrivateKey(path: string): Promise<Uint8Array<ArrayBuffer>> {
  const pem = await readPem(path)
  let key: KeyObject
  try {
    key = createPrivateKey(pem)
  } catch (e) {
    throw new EdgefleetError('bad_request', `${path}: not an unencrypted PEM private key (${(e as Error).message})`, {
      cause: e,
    })
  }
  requireP256(key, path)
  return new Uint8Array(key.export({ type: 'pkcs8', format: 'der' }))
}

/** The public key of a PEM file (or the public half of a private key file) as SubjectPublicKeyInfo DER. */
export async function readPublicKey(path: string): Promise<Uint8Array<ArrayBuffer>> {
  const pem = await readPem(path)
  let key: KeyObject
  try {
    key = createPublicKey(pem)
  } catch (e) {
    throw new EdgefleetError('bad_request', `${path}: not a PEM public key (${(e as Error).message})`, { cause: e })
  }
  requireP256(key, path)
  return new Uint8Array(key.export({ type: 'spki', format: 'der' }))
}

/** Writes a new key pair: `<prefix>.key.pem` (mode 600) and `<prefix>.pub.pem`; refuses to overwrite either. */
export async function createKeyPair(
  prefix: string,
): Promise<{ privatePath: string; publicPath: string; hint: string }> {
  const privatePath = `${prefix}.key.pem`
  const publicPath = `${prefix}.pub.pem`
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }))
  try {
    await writeFile(privatePath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' })
  } catch (e) {
    throw new EdgefleetError(
      'conflict',
      `${privatePath}: ${(e as NodeJS.ErrnoException).code === 'EEXIST' ? 'already exists; keys are never overwritten' : (e as Error).message}`,
      { cause: e },
    )
  }
  await writeFile(publicPath, publicKey.export({ type: 'spki', format: 'pem' }), { flag: 'wx' }).catch((e: unknown) => {
    throw new EdgefleetError(
      'conflict',
      `${publicPath}: ${(e as NodeJS.ErrnoException).code === 'EEXIST' ? 'already exists; keys are never overwritten' : (e as Error).message}`,
      { cause: e },
    )
  })
  return { privatePath, publicPath, hint: await keyHint(spki) }
}
