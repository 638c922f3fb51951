/**
 * Writes the signing fixtures of test/vectors/signing/, once: two ECDSA P-256 key pairs (the
 * publisher's and another's) and a bundle of the publisher over the golden seattle-weather v4 file,
 * which the format vectors embed. Tests read fixed keys so every run checks the same keys and hints;
 * existing files are kept. Run with `npx tsx scripts/make-signing-fixtures.ts`.
 */
import { generateKeyPairSync } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { signBundle } from '../core/signing/bundle.ts'
import { pemToDer } from '../core/signing/pem.ts'
import { seattleFile } from './format-vectors/documents.ts'

const dir = new URL('../test/vectors/signing/', import.meta.url)
mkdirSync(dir, { recursive: true })
for (const name of ['publisher', 'other']) {
  const file = new URL(`${name}.key.pem`, dir)
  if (existsSync(file)) continue
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }))
  writeFileSync(new URL(`${name}.pub.pem`, dir), publicKey.export({ type: 'spki', format: 'pem' }))
}
const bundleFile = new URL('seattle-weather-v4.bundle.json', dir)
if (!existsSync(bundleFile)) {
  const key = pemToDer(readFileSync(new URL('publisher.key.pem', dir), 'utf8'), 'PRIVATE KEY')!
  const f = seattleFile(4)
  const bundle = await signBundle('seattle-weather', [{ name: f.path, digest: f.sha256 }], key)
  writeFileSync(bundleFile, JSON.stringify(bundle, null, 2) + '\n')
}
