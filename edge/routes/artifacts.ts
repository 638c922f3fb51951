import { createRoute, OpenAPIHono } from '@hono/zod-openapi'
import * as z from 'zod'
import { EdgefleetError } from '../../core/errors.ts'
import { Sha256 } from '../../core/formats/common.ts'
import { StoredArtifact, StoredVariant } from '../../core/formats/registry.ts'
import {
  acceptedEncoding,
  ARTIFACT_ENCODINGS,
  artifactKey,
  parseRange,
  putArtifact,
  putVariant,
  variantKey,
} from '../artifacts/store.ts'
import { requireScope } from '../auth/middleware.ts'
import type { AppEnv } from '../env.ts'
import { validationHook } from '../http/errors.ts'
import { bearer, deviceKey, errors, json, notFound } from './openapi.ts'

/** Largest single upload: a Worker request body is capped at 100 MB on Cloudflare's Free and Pro plans. */
export const MAX_ARTIFACT_BYTES = 100 * 1024 * 1024

const shaParam = z.object({ sha256: Sha256 })
const binary = { 'application/octet-stream': { schema: z.string().meta({ format: 'binary' }) } }

const immutableHeaders = (sha256: string): Record<string, string> => ({
  ETag: `"${sha256}"`,
  // The same bytes may go out gzip-encoded to clients that accept it (`/encodings/gzip`).
  Vary: 'Accept-Encoding',
  'Cache-Control': 'public, max-age=31536000, immutable',
  'Accept-Ranges': 'bytes',
  'Content-Type': 'application/octet-stream',
  // Cross-origin-isolated pages (COEP: require-corp) may load artifacts from the edge's origin.
  'Cross-Origin-Resource-Policy': 'cross-origin',
})

/** The upload's declared size: `length_required` without a Content-Length, `too_large` above the limit. */
function declaredSize(header: string | undefined): number {
  if (header === undefined || !/^\d+$/.test(header))
    throw new EdgefleetError('length_required', 'uploads need a Content-Length header')
  const size = Number(header)
  if (size > MAX_ARTIFACT_BYTES)
    throw new EdgefleetError(
      'too_large',
      `one request carries at most ${MAX_ARTIFACT_BYTES} bytes (got ${size}): upload larger files in parts (POST /v1/artifacts/{sha256}/uploads)`,
    )
  return size
}

/** The upload responses both artifact routes share besides their 200/201. */
const uploadRefusals = {
  ...errors,
  411: json(z.unknown(), 'Content-Length is required: `length_required`'),
  413: json(z.unknown(), 'Larger than the upload limit: `too_large`'),
}

/** `/v1/artifacts/:sha256`: content-addressed model and runtime files in R2. */
export const artifacts = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })

artifacts.openapi(
  createRoute({
    method: 'put',
    path: '/v1/artifacts/{sha256}',
    summary: 'Upload bytes under their SHA-256 (streamed; stored only if they hash to the name)',
    tags: ['artifacts'],
    security: bearer,
    middleware: [requireScope('registry:write')] as const,
    request: { params: shaParam, body: { content: binary, required: true } },
    responses: {
      200: json(StoredArtifact, 'The bytes were already stored'),
      201: json(StoredArtifact, 'Stored'),
      ...uploadRefusals,
      412: json(z.unknown(), 'With `If-None-Match: *`: the bytes are already stored (`precondition_failed`)'),
    },
  }),
  async (c) => {
    const { sha256 } = c.req.valid('param')
    const size = declaredSize(c.req.header('Content-Length'))
    if (c.req.header('If-None-Match')?.trim() === '*' && (await c.env.ARTIFACTS.head(artifactKey(sha256))))
      throw new EdgefleetError('precondition_failed', 'these bytes are already stored')
    const body = c.req.raw.body ?? new Blob([]).stream()
    const { created } = await putArtifact(c.env.ARTIFACTS, sha256, body, size)
    return c.json({ sha256, size, created }, created ? 201 : 200)
  },
)

artifacts.openapi(
  createRoute({
    method: 'put',
    path: '/v1/artifacts/{sha256}/encodings/{encoding}',
    summary: 'Upload an encoded copy of a stored artifact (stored only if it decodes to exactly its bytes)',
    description:
      'Devices that accept the encoding (`Accept-Encoding`) then download this copy: fewer bytes on the wire, the same bytes after decoding, which the SDK verifies by SHA-256 as always. Range requests are always served from the artifact itself.',
    tags: ['artifacts'],
    security: bearer,
    middleware: [requireScope('registry:write')] as const,
    request: {
      params: shaParam.extend({ encoding: z.enum(ARTIFACT_ENCODINGS) }),
      body: { content: binary, required: true },
    },
    responses: {
      200: json(StoredVariant, 'This encoding was already stored'),
      201: json(StoredVariant, 'Stored'),
      ...uploadRefusals,
    },
  }),
  async (c) => {
    const { sha256, encoding } = c.req.valid('param')
    const size = declaredSize(c.req.header('Content-Length'))
    const body = c.req.raw.body ?? new Blob([]).stream()
    const stored = await putVariant(c.env.ARTIFACTS, sha256, encoding, body, size, crypto.randomUUID())
    return c.json({ sha256, encoding, size: stored.size, created: stored.created }, stored.created ? 201 : 200)
  },
)

artifacts.openapi(
  createRoute({
    method: 'get',
    path: '/v1/artifacts/{sha256}',
    summary: 'Download an artifact (immutable; ETag; single byte ranges). HEAD answers from metadata alone.',
    tags: ['artifacts'],
    security: deviceKey,
    middleware: [requireScope('device', 'registry:read')] as const,
    request: { params: shaParam },
    responses: {
      200: { content: binary, description: 'The bytes' },
      206: { content: binary, description: 'The requested range' },
      304: { description: 'Not modified' },
      416: json(z.unknown(), 'Range not satisfiable'),
      ...errors,
      ...notFound,
    },
  }),
  async (c) => {
    const { sha256 } = c.req.valid('param')
    const headers = immutableHeaders(sha256)
    // Hono serves HEAD through the GET route; answer it from R2 metadata without opening the body.
    if (c.req.method === 'HEAD') {
      const head = await c.env.ARTIFACTS.head(artifactKey(sha256))
      if (!head) return c.body(null, 404)
      return c.body(null, 200, { ...headers, 'Content-Length': String(head.size) })
    }
    const inm = c.req.header('If-None-Match')
    const rangeHeader = c.req.header('Range')
    // RFC 9110 §13.1.2: `*` matches any current representation, so a GET of stored bytes is a 304.
    if (inm && inm.split(',').some((t) => ['*', `"${sha256}"`].includes(t.trim().replace(/^W\//, '')))) {
      if (await c.env.ARTIFACTS.head(artifactKey(sha256))) return c.body(null, 304, headers)
    }
    if (rangeHeader) {
      const head = await c.env.ARTIFACTS.head(artifactKey(sha256))
      if (!head) throw new EdgefleetError('not_found', `no artifact ${sha256}`)
      const range = parseRange(rangeHeader, head.size)
      if (range === 'unsatisfiable') {
        throw new EdgefleetError('range_not_satisfiable', `the artifact has ${head.size} bytes`, {
          headers: { 'Content-Range': `bytes */${head.size}` },
        })
      }
      if (range) {
        const obj = await c.env.ARTIFACTS.get(artifactKey(sha256), { range })
        if (!obj) throw new EdgefleetError('not_found', `no artifact ${sha256}`)
        const end = range.offset + range.length - 1
        return c.body(obj.body, 206, {
          ...headers,
          'Content-Range': `bytes ${range.offset}-${end}/${head.size}`,
          'Content-Length': String(range.length),
        })
      }
    }
    const encoding = acceptedEncoding(c.req.header('Accept-Encoding'))
    const variant = encoding ? await c.env.ARTIFACTS.get(variantKey(sha256, encoding)) : null
    if (variant && encoding) {
      // Already encoded: the runtime must send these bytes as they are, not encode them again.
      return new Response(variant.body, {
        status: 200,
        headers: { ...headers, 'Content-Encoding': encoding, 'Content-Length': String(variant.size) },
        encodeBody: 'manual',
      })
    }
    const obj = await c.env.ARTIFACTS.get(artifactKey(sha256))
    if (!obj) throw new EdgefleetError('not_found', `no artifact ${sha256}`)
    return c.body(obj.body, 200, { ...headers, 'Content-Length': String(obj.size) })
  },
)
