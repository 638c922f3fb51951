import { createRoute, OpenAPIHono } from '@hono/zod-openapi'
import * as z from 'zod'
import { EdgefleetError } from '../../core/errors.ts'
import { ArtifactUpload, CreateUpload, MAX_PART_BYTES, UploadedPart } from '../../core/formats/artifact-uploads.ts'
import { Sha256 } from '../../core/formats/common.ts'
import { StoredArtifact } from '../../core/formats/registry.ts'
import { abortUpload, completeUpload, createUpload, putPart } from '../artifacts/multipart.ts'
import { requireScope } from '../auth/middleware.ts'
import type { AppEnv } from '../env.ts'
import { validationHook } from '../http/errors.ts'
import { bearer, conflict, errors, json, jsonBody, notFound } from './openapi.ts'

const uploadParams = z.object({ sha256: Sha256, uploadId: z.string().min(1).max(1024) })
const binary = { 'application/octet-stream': { schema: z.string().meta({ format: 'binary' }) } }

/** A part's declared size: `length_required` without a Content-Length, `too_large` above one request. */
function partLength(header: string | undefined): number {
  if (header === undefined || !/^\d+$/.test(header))
    throw new EdgefleetError('length_required', 'parts need a Content-Length header')
  const size = Number(header)
  if (size > MAX_PART_BYTES)
    throw new EdgefleetError('too_large', `a part is at most ${MAX_PART_BYTES} bytes (got ${size})`)
  return size
}

/**
 * `/v1/artifacts/:sha256/uploads`: multipart uploads of artifacts larger than one request may carry
 * (R2 multipart through the Worker; edge/artifacts/multipart.ts).
 */
export const artifactUploads = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })

artifactUploads.openapi(
  createRoute({
    method: 'post',
    path: '/v1/artifacts/{sha256}/uploads',
    summary: 'Start a multipart upload of an artifact, or resume the one in progress for the same bytes',
    description:
      'Parts are 5 MiB to 100 MiB, all the same size but the last. Sending the same request again answers the upload in progress with the parts the edge already holds, so an interrupted upload continues where it stopped.',
    tags: ['artifacts'],
    security: bearer,
    middleware: [requireScope('registry:write')] as const,
    request: { params: z.object({ sha256: Sha256 }), body: jsonBody(CreateUpload) },
    responses: {
      200: json(ArtifactUpload, 'The upload in progress (or `stored: true`: the artifact exists)'),
      201: json(ArtifactUpload, 'Started'),
      ...errors,
      ...conflict,
    },
  }),
  async (c) => {
    const { sha256 } = c.req.valid('param')
    const { upload, created } = await createUpload(c.env.ARTIFACTS, sha256, c.req.valid('json'))
    return c.json(upload, created ? 201 : 200)
  },
)

artifactUploads.openapi(
  createRoute({
    method: 'put',
    path: '/v1/artifacts/{sha256}/uploads/{uploadId}/parts/{partNumber}',
    summary: 'Upload one part (exactly `partBytes`, or the remainder for the last; sending it again replaces it)',
    tags: ['artifacts'],
    security: bearer,
    middleware: [requireScope('registry:write')] as const,
    request: {
      params: uploadParams.extend({ partNumber: z.coerce.number().int().min(1).max(10_000) }),
      body: { content: binary, required: true },
    },
    responses: {
      200: json(UploadedPart, 'Received'),
      ...errors,
      ...notFound,
      411: json(z.unknown(), 'Content-Length is required: `length_required`'),
      413: json(z.unknown(), 'Larger than one request: `too_large`'),
    },
  }),
  async (c) => {
    const { sha256, uploadId, partNumber } = c.req.valid('param')
    const length = partLength(c.req.header('Content-Length'))
    const body = c.req.raw.body ?? new Blob([]).stream()
    return c.json(await putPart(c.env.ARTIFACTS, { sha256, uploadId, partNumber }, body, length), 200)
  },
)

artifactUploads.openapi(
  createRoute({
    method: 'post',
    path: '/v1/artifacts/{sha256}/uploads/{uploadId}/complete',
    summary: 'Assemble the parts; stored under the hash only if the whole object hashes to it (else aborted)',
    tags: ['artifacts'],
    security: bearer,
    middleware: [requireScope('registry:write')] as const,
    request: { params: uploadParams },
    responses: {
      201: json(StoredArtifact, 'Stored'),
      ...errors,
      ...notFound,
      409: json(z.unknown(), 'Parts are missing (`conflict`, listed in `data.missing`)'),
    },
  }),
  async (c) => {
    const { sha256, uploadId } = c.req.valid('param')
    const stored = await completeUpload(c.env.ARTIFACTS, sha256, uploadId)
    return c.json(stored, 201)
  },
)

artifactUploads.openapi(
  createRoute({
    method: 'delete',
    path: '/v1/artifacts/{sha256}/uploads/{uploadId}',
    summary: 'Abort an upload and drop its parts (one already gone is 404, changing nothing)',
    tags: ['artifacts'],
    security: bearer,
    middleware: [requireScope('registry:write')] as const,
    request: { params: uploadParams },
    responses: { 204: { description: 'Aborted' }, ...errors, ...notFound },
  }),
  async (c) => {
    const { sha256, uploadId } = c.req.valid('param')
    await abortUpload(c.env.ARTIFACTS, sha256, uploadId)
    return c.body(null, 204)
  },
)
