import { createRoute, OpenAPIHono } from '@hono/zod-openapi'
import { EdgefleetError, isEdgefleetError } from '../../core/errors.ts'
import { bundleStatement, parseBundle } from '../../core/signing/bundle.ts'
import { unsignedFiles } from '../../core/signing/statement.ts'
import { Manifest, PatchVersion, PublishVersion } from '../../core/formats/registry.ts'
import { profileMatchesSignature } from '../../core/registry/checks.ts'
import { withHfRoles } from '../../core/registry/hf-layout.ts'
import { interfaceChanges } from '../../core/registry/interface.ts'
import { versionFilesProblem } from '../../core/variants/checks.ts'
import { artifactSize } from '../artifacts/store.ts'
import { registryCache } from '../assign/registry-cache.ts'
import { listPins } from '../db/cohorts.ts'
import { requireScope } from '../auth/middleware.ts'
import { unwrap } from '../control/rpc-result.ts'
import { modelControl } from '../control/stub.ts'
import { insertEvent } from '../db/events.ts'
import { getModel } from '../db/models.ts'
import { versionOfTrigger } from '../db/runs.ts'
import { getVersion, insertNextVersion, latestVersion, type VersionRecord } from '../db/versions.ts'
import type { AppEnv } from '../env.ts'
import { validationHook } from '../http/errors.ts'
import { decimalInt } from '../http/params.ts'
import { modelParam } from './models.ts'
import { bearer, conflict, errors, json, jsonBody, notFound } from './openapi.ts'

const versionParam = modelParam.extend({ version: decimalInt({ min: 1 }) })

/** The public manifest of a version: files with absolute artifact URLs. */
export function toManifest(v: VersionRecord, origin: string): Manifest {
  return {
    model: v.model,
    version: v.version,
    format: v.format,
    files: v.files.map((f) => ({ ...f, url: `${origin}/v1/artifacts/${f.sha256}` })),
    signature: v.signature,
    profile: v.profile,
    interface: v.interface,
    sigstoreBundle: v.sigstoreBundle,
    metrics: v.metrics,
    lineage: v.lineage,
    deprecated: v.deprecatedAt !== null,
    deprecatedAt: v.deprecatedAt,
    aliases: v.aliases,
    ...(v.variants ? { variants: v.variants } : {}),
  }
}

/**
 * Refuses a bundle that is not a model signing bundle edgefleet can verify, or that does not sign every
 * file with its digest (`signature_error`). The edge holds no publisher key: devices given trusted keys
 * verify the signature itself; this keeps a bundle no device could accept out of the registry.
 */
async function checkSignedFiles(bundle: unknown, files: readonly { path: string; sha256: string }[]): Promise<void> {
  const at = (e: unknown) =>
    isEdgefleetError(e) ? new EdgefleetError(e.code, e.message, { pointer: `/sigstoreBundle${e.pointer ?? ''}` }) : e
  let statement
  try {
    statement = await bundleStatement(parseBundle(bundle))
  } catch (e) {
    throw at(e)
  }
  const problems = unsignedFiles(statement, files)
  if (problems.length > 0)
    throw new EdgefleetError('signature_error', `the bundle does not sign the files: ${problems.join('; ')}`, {
      pointer: '/sigstoreBundle/dsseEnvelope/payload',
    })
}

/** A version of a model, or 404. */
export async function requireVersion(db: D1Database, model: string, version: number): Promise<VersionRecord> {
  const v = await getVersion(db, model, version)
  if (!v) {
    const exists = await getModel(db, model)
    throw new EdgefleetError(
      'not_found',
      exists ? `model "${model}" has no version ${version}` : `model "${model}" does not exist`,
    )
  }
  return v
}

/** `/v1/models/:model/versions`: publish, read and deprecate immutable versions. */
export const versions = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })

versions.openapi(
  createRoute({
    method: 'post',
    path: '/v1/models/{model}/versions',
    summary: 'Publish the next version of a model',
    description:
      'Every file must already be uploaded (`PUT /v1/artifacts/{sha256}`) with the size given. The number is assigned atomically.',
    tags: ['registry'],
    security: bearer,
    middleware: [requireScope('registry:write')] as const,
    request: { params: modelParam, body: jsonBody(PublishVersion) },
    responses: { 201: json(Manifest, 'The new version'), ...errors, ...notFound, ...conflict },
  }),
  async (c) => {
    const { model } = c.req.valid('param')
    const body = c.req.valid('json')
    const m = await getModel(c.env.DB, model)
    if (!m) throw new EdgefleetError('not_found', `model "${model}" does not exist`)
    const fit = versionFilesProblem(m.format, body.files, body.variants)
    if (fit) throw new EdgefleetError(fit.code ?? 'validation_failed', fit.message, { pointer: fit.pointer })
    const signature = body.signature ?? m.signature
    if (body.profile) {
      const problem = profileMatchesSignature(body.profile, signature)
      if (problem) throw new EdgefleetError('validation_failed', problem.message, { pointer: problem.pointer })
    }
    const sizes = await Promise.all(body.files.map((f) => artifactSize(c.env.ARTIFACTS, f.sha256)))
    for (const [i, f] of body.files.entries()) {
      if (sizes[i] === null)
        throw new EdgefleetError('artifact_missing', `${f.path}: no artifact ${f.sha256}; upload it first`, {
          pointer: `/files/${i}/sha256`,
        })
      if (sizes[i] !== f.size)
        throw new EdgefleetError('validation_failed', `${f.path}: the artifact has ${sizes[i]} bytes, not ${f.size}`, {
          pointer: `/files/${i}/size`,
        })
    }
    if (body.sigstoreBundle) await checkSignedFiles(body.sigstoreBundle, body.files)
    if (body.lineage.parent !== undefined && !(await getVersion(c.env.DB, model, body.lineage.parent)))
      throw new EdgefleetError('validation_failed', `parent version ${body.lineage.parent} does not exist`, {
        pointer: '/lineage/parent',
      })

    if (body.lineage.triggerEvent !== undefined) {
      // A trigger event publishes once, however many times a retrainer receives it.
      const published = await versionOfTrigger(c.env.DB, model, body.lineage.triggerEvent)
      if (published !== null)
        throw new EdgefleetError(
          'conflict',
          `event ${body.lineage.triggerEvent} already published v${published} of "${model}"`,
          { pointer: '/lineage/triggerEvent' },
        )
    }

    const latest = await latestVersion(c.env.DB, model)
    if (latest && body.allowInterfaceChange !== true) {
      const changes = interfaceChanges(
        { interface: latest.interface, signature: latest.signature ?? m.signature },
        { interface: body.interface ?? null, signature },
      )
      if (changes.length > 0)
        throw new EdgefleetError(
          'interface_mismatch',
          `this version would break the interface of v${latest.version}: ${changes.join('; ')}. ` +
            'Publish it with allowInterfaceChange (the CLI: --allow-interface-change) once the app is ready for it',
          { pointer: body.interface ? '/interface' : '/signature' },
        )
    }

    const at = Date.now()
    const actor = c.get('principal').name
    const [inserted] = await c.env.DB.batch<{ version: number }>([
      insertNextVersion(c.env.DB, {
        model,
        // A Hugging Face folder's files are listed with their role and weight type, derived from their paths.
        files: m.format === 'hf-onnx' ? withHfRoles(body.files) : body.files,
        signature,
        profile: body.profile ?? null,
        interface: body.interface ?? null,
        sigstoreBundle: body.sigstoreBundle ?? null,
        variants: body.variants ?? null,
        metrics: body.metrics,
        lineage: body.lineage,
        createdAt: at,
        createdBy: actor,
      }),
      insertEvent(
        c.env.DB,
        {
          type: 'version.published',
          model,
          actor,
          at,
          details: {
            files: body.files.length,
            lineage: body.lineage,
            ...(body.variants ? { variants: body.variants.map((v) => v.name) } : {}),
          },
        },
        { set: { version: 'SELECT MAX(version) FROM versions WHERE model = ?7' }, args: [model] },
      ),
    ])
    const version = inserted.results[0].version
    registryCache(c.env).forget(model)
    return c.json(toManifest((await getVersion(c.env.DB, model, version))!, new URL(c.req.url).origin), 201)
  },
)

versions.openapi(
  createRoute({
    method: 'get',
    path: '/v1/models/{model}/versions/{version}',
    summary: 'The manifest of a version: files, signature, profile, metrics, lineage',
    tags: ['registry'],
    security: bearer,
    middleware: [requireScope('registry:read')] as const,
    request: { params: versionParam },
    responses: { 200: json(Manifest, 'The manifest'), ...errors, ...notFound },
  }),
  async (c) => {
    const { model, version } = c.req.valid('param')
    return c.json(toManifest(await requireVersion(c.env.DB, model, version), new URL(c.req.url).origin), 200)
  },
)

versions.openapi(
  createRoute({
    method: 'patch',
    path: '/v1/models/{model}/versions/{version}',
    summary: 'Deprecate a version (it can no longer be assigned or aliased)',
    tags: ['registry'],
    security: bearer,
    middleware: [requireScope('registry:write')] as const,
    request: { params: versionParam, body: jsonBody(PatchVersion) },
    responses: { 200: json(Manifest, 'The deprecated version'), ...errors, ...notFound, ...conflict },
  }),
  async (c) => {
    const { model, version } = c.req.valid('param')
    const before = await requireVersion(c.env.DB, model, version)
    if (before.deprecatedAt === null) {
      // Through the model's ModelControl, which also starts rollouts: a version in an active rollout
      // is refused, and a rollout never starts on a version deprecated meanwhile.
      const changed = unwrap(
        await modelControl(c.env, model).deprecateVersion(model, version, c.get('principal').name),
      ) as boolean
      registryCache(c.env).forget(model)
      if (!changed) {
        const after = await requireVersion(c.env.DB, model, version)
        if (after.deprecatedAt === null) {
          const pins = (await listPins(c.env.DB, model)).filter((p) => p.version === version).map((p) => p.cohort)
          const holds = [
            ...(after.aliases.length ? [`aliased as ${after.aliases.join(', ')}`] : []),
            ...(pins.length ? [`pinned for cohort ${pins.join(', ')}`] : []),
          ]
          throw new EdgefleetError(
            'conflict',
            pins.length
              ? `version ${version} is ${holds.join(' and ')}; unpin the cohort${after.aliases.length ? ' and move the alias' : ''} first`
              : `version ${version} is ${holds[0]}; move the alias first`,
            { pointer: '/deprecated' },
          )
        }
      }
    }
    return c.json(toManifest(await requireVersion(c.env.DB, model, version), new URL(c.req.url).origin), 200)
  },
)
