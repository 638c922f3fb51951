/**
 * @module
 * Signed versions: an SDK given `trustedKeys` runs only versions whose publisher signed every file
 * (an OpenSSF model signing bundle, core/signing/bundle.ts). The bundle must verify with one of the
 * keys, and sign each file the assignment lists under its path with the SHA-256 the SDK then checks
 * the downloaded bytes against, so the bytes that run are the bytes the publisher signed.
 */
import { EdgefleetError } from '../core/errors.ts'
import type { Assignment } from '../core/formats/assignment.ts'
import { trustedKey, verifyBundle, type TrustedKey } from '../core/signing/bundle.ts'
import { pemToDer } from '../core/signing/pem.ts'
import { unsignedFiles } from '../core/signing/statement.ts'

/** The DER of each PEM public key, or `bad_request` at the first that is not one (checked at createFleet). */
export function trustedKeyDers(pems: readonly unknown[]): Uint8Array<ArrayBuffer>[] {
  if (!Array.isArray(pems))
    throw new EdgefleetError('bad_request', 'trustedKeys must be an array of PEM public keys', {
      pointer: '/trustedKeys',
    })
  return pems.map((pem, i) => {
    const der = typeof pem === 'string' ? pemToDer(pem, 'PUBLIC KEY') : null
    if (!der)
      throw new EdgefleetError(
        'bad_request',
        `trustedKeys[${i}] is not a PEM public key ("-----BEGIN PUBLIC KEY-----")`,
        {
          pointer: `/trustedKeys/${i}`,
        },
      )
    return der
  })
}

/** Checks versions against the keys a fleet trusts; imports the keys once, on first use. */
export class SignedVersions {
  #keys?: Promise<TrustedKey[]>

  constructor(private readonly ders: readonly Uint8Array<ArrayBuffer>[]) {}

  /**
   * Resolves when `version` is signed by a trusted key over all its files; otherwise rejects with
   * `signature_error` naming the version and what is wrong.
   */
  async check(version: Pick<Assignment, 'model' | 'version' | 'files' | 'sigstoreBundle'>): Promise<void> {
    const name = `${version.model} v${version.version}`
    if (!version.sigstoreBundle)
      throw new EdgefleetError('signature_error', `${name} is not signed, and this fleet runs only signed versions`)
    this.#keys ??= Promise.all(this.ders.map((der) => trustedKey(der)))
    let statement
    try {
      statement = await verifyBundle(version.sigstoreBundle, await this.#keys)
    } catch (e) {
      if (e instanceof Error) e.message = `${name}: ${e.message}`
      throw e
    }
    const problems = unsignedFiles(statement, version.files)
    if (problems.length > 0)
      throw new EdgefleetError('signature_error', `${name}: the signature does not cover ${problems.join('; ')}`)
  }
}
