import { sha256Hex } from './download.ts'

const base64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replace(/=+$/, '')

/** A fresh pseudonymous device id: `d_` + 22 base64url characters (128 random bits). */
export function randomDeviceId(): string {
  return 'd_' + base64url(crypto.getRandomValues(new Uint8Array(16)))
}

/**
 * An app-supplied id (a user or install id) turned pseudonymous: `h_` + the first 128 bits of
 * SHA-256("edgefleet:" + id), so the raw id never leaves the page.
 */
export async function hashedDeviceId(appId: string): Promise<string> {
  const hex = await sha256Hex(new TextEncoder().encode(`edgefleet:${appId}`))
  const bytes = Uint8Array.from(hex.slice(0, 32).match(/../g)!, (h) => parseInt(h, 16))
  return 'h_' + base64url(bytes)
}
