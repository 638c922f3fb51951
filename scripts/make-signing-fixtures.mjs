// Writes the ECDSA P-256 key pairs the signing tests use (test/vectors/signing/), once: tests read
// fixed keys so that every run checks the same keys and hints. Run: node scripts/make-signing-fixtures.mjs
import { generateKeyPairSync } from 'node:crypto'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'

const dir = new URL('../test/vectors/signing/', import.meta.url)
mkdirSync(dir, { recursive: true })
for (const name of ['publisher', 'other']) {
  const file = new URL(`${name}.key.pem`, dir)
  if (existsSync(file)) continue
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }))
  writeFileSync(new URL(`${name}.pub.pem`, dir), publicKey.export({ type: 'spki', format: 'pem' }))
}
