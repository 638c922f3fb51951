import type { DeviceCaps } from './formats/telemetry.ts'

/**
 * Device capabilities on the assign URL: `caps=webgpu:1,f16:0,webnn:1,mem:8,cores:4,platform:linux`
 * (short, cache-friendly, no JSON in a query string). `webnn` is sent only when present. Unknown keys
 * are ignored so older edges accept newer SDKs.
 */
export function encodeCaps(caps: DeviceCaps): string {
  const parts = [`webgpu:${caps.webgpu ? 1 : 0}`]
  if (caps.f16 !== undefined) parts.push(`f16:${caps.f16 ? 1 : 0}`)
  if (caps.webnn) parts.push('webnn:1')
  if (caps.deviceMemory !== undefined) parts.push(`mem:${caps.deviceMemory}`)
  if (caps.cores !== undefined) parts.push(`cores:${caps.cores}`)
  if (caps.platform !== undefined) parts.push(`platform:${caps.platform}`)
  return parts.join(',')
}

/** Parses `encodeCaps` output; malformed values are dropped rather than trusted. */
export function decodeCaps(text: string | null | undefined): DeviceCaps {
  const caps: DeviceCaps = { webgpu: false }
  for (const part of (text ?? '').split(',')) {
    const [key, value] = part.split(':', 2)
    if (value === undefined) continue
    if (key === 'webgpu') caps.webgpu = value === '1'
    else if (key === 'f16') caps.f16 = value === '1'
    else if (key === 'webnn') caps.webnn = value === '1'
    else if (key === 'mem' && /^\d+(\.\d+)?$/.test(value) && Number(value) > 0 && Number(value) <= 1024)
      caps.deviceMemory = Number(value)
    else if (key === 'cores' && /^\d{1,4}$/.test(value) && Number(value) > 0) caps.cores = Number(value)
    else if (key === 'platform' && /^[a-z0-9_-]{1,32}$/.test(value)) caps.platform = value
  }
  return caps
}
