import { describe, expect, it } from 'vitest'
import type * as z from 'zod'
import * as F from '../../core/formats/index.ts'
import { parseSketch } from '../../core/sketch/parse.ts'
import assignmentInvalid from '../vectors/formats/assignment.invalid.json'
import assignmentValid from '../vectors/formats/assignment.valid.json'
import batchInvalid from '../vectors/formats/batch.invalid.json'
import batchValid from '../vectors/formats/batch.valid.json'
import cohortAllowListInvalid from '../vectors/formats/cohort-allow-list.invalid.json'
import cohortAllowListValid from '../vectors/formats/cohort-allow-list.valid.json'
import createModelInvalid from '../vectors/formats/create-model.invalid.json'
import createModelValid from '../vectors/formats/create-model.valid.json'
import createRunInvalid from '../vectors/formats/create-run.invalid.json'
import createRunValid from '../vectors/formats/create-run.valid.json'
import createTokenInvalid from '../vectors/formats/create-token.invalid.json'
import createTokenValid from '../vectors/formats/create-token.valid.json'
import createdTokenInvalid from '../vectors/formats/created-token.invalid.json'
import createdTokenValid from '../vectors/formats/created-token.valid.json'
import errorBodyInvalid from '../vectors/formats/error-body.invalid.json'
import errorBodyValid from '../vectors/formats/error-body.valid.json'
import eventPageInvalid from '../vectors/formats/event-page.invalid.json'
import eventPageValid from '../vectors/formats/event-page.valid.json'
import eventInvalid from '../vectors/formats/event.invalid.json'
import eventValid from '../vectors/formats/event.valid.json'
import manifestInvalid from '../vectors/formats/manifest.invalid.json'
import manifestValid from '../vectors/formats/manifest.valid.json'
import modelInvalid from '../vectors/formats/model.invalid.json'
import modelValid from '../vectors/formats/model.valid.json'
import moveAliasInvalid from '../vectors/formats/move-alias.invalid.json'
import moveAliasValid from '../vectors/formats/move-alias.valid.json'
import patchVersionInvalid from '../vectors/formats/patch-version.invalid.json'
import patchVersionValid from '../vectors/formats/patch-version.valid.json'
import profileInvalid from '../vectors/formats/profile.invalid.json'
import profileValid from '../vectors/formats/profile.valid.json'
import publishVersionInvalid from '../vectors/formats/publish-version.invalid.json'
import publishVersionValid from '../vectors/formats/publish-version.valid.json'
import reportInvalid from '../vectors/formats/report.invalid.json'
import typicalReport from '../vectors/formats/report.typical.json'
import reportValid from '../vectors/formats/report.valid.json'
import runInvalid from '../vectors/formats/run.invalid.json'
import runValid from '../vectors/formats/run.valid.json'
import signatureInvalid from '../vectors/formats/signature.invalid.json'
import signatureValid from '../vectors/formats/signature.valid.json'
import sketchInvalid from '../vectors/formats/sketch.invalid.json'
import sketchValid from '../vectors/formats/sketch.valid.json'
import tokenInvalid from '../vectors/formats/token.invalid.json'
import tokenValid from '../vectors/formats/token.valid.json'

/** A document that must validate; `parsed` is the schema's output when defaults fill fields (else `value`). */
type Valid = { name: string; value: unknown; parsed?: unknown }
/** A document that must be rejected, with the RFC 6901 pointer of the first issue. */
type Invalid = { name: string; value: unknown; pointer: string }
type Format = { format: string; schema: z.ZodType; valid: Valid[]; invalid: Invalid[] }

const format = (name: string, schema: z.ZodType, valid: unknown, invalid: unknown): Format => ({
  format: name,
  schema,
  valid: valid as Valid[],
  invalid: invalid as Invalid[],
})

const FORMATS: Format[] = [
  format('error-body', F.ErrorBody, errorBodyValid, errorBodyInvalid),
  format('signature', F.Signature, signatureValid, signatureInvalid),
  format('profile', F.Profile, profileValid, profileInvalid),
  format('sketch', F.SketchJson, sketchValid, sketchInvalid),
  format('report', F.Report, reportValid, reportInvalid),
  format('batch', F.Batch, batchValid, batchInvalid),
  format('assignment', F.Assignment, assignmentValid, assignmentInvalid),
  format('create-model', F.CreateModel, createModelValid, createModelInvalid),
  format('publish-version', F.PublishVersion, publishVersionValid, publishVersionInvalid),
  format('manifest', F.Manifest, manifestValid, manifestInvalid),
  format('move-alias', F.MoveAlias, moveAliasValid, moveAliasInvalid),
  format('patch-version', F.PatchVersion, patchVersionValid, patchVersionInvalid),
  format('event', F.Event, eventValid, eventInvalid),
  format('event-page', F.EventPage, eventPageValid, eventPageInvalid),
  format('create-token', F.CreateToken, createTokenValid, createTokenInvalid),
  format('token', F.Token, tokenValid, tokenInvalid),
  format('created-token', F.CreatedToken, createdTokenValid, createdTokenInvalid),
  format('model', F.Model, modelValid, modelInvalid),
  format('create-run', F.CreateRun, createRunValid, createRunInvalid),
  format('run', F.Run, runValid, runInvalid),
  format('cohort-allow-list', F.CohortAllowList, cohortAllowListValid, cohortAllowListInvalid),
]

/** RFC 6901 pointer of a zod issue path, as the edge puts it in error bodies. */
const pointerOf = (path: readonly PropertyKey[]) =>
  path.map((p) => `/${String(p).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('')
/** What a parsed document looks like on the wire. */
const wire = (v: unknown): unknown => JSON.parse(JSON.stringify(v))
const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v)).length

/** The first issue of a failed parse as `pointer: message`, so a failure says where and why. */
function firstIssue(result: { error?: z.ZodError }): string {
  const issue = result.error?.issues[0]
  return issue === undefined ? 'no issue' : `${pointerOf(issue.path)}: ${issue.message}`
}

describe.each(FORMATS)('$format', ({ schema, valid, invalid }) => {
  it('has valid and invalid examples', () => {
    expect(valid.length).toBeGreaterThan(0)
    expect(invalid.length).toBeGreaterThan(0)
  })

  it.each(valid)('accepts $name and round-trips it', ({ value, parsed }) => {
    const result = schema.safeParse(value)
    expect(result.success, firstIssue(result)).toBe(true)
    // Exact: the output on the wire is the input, or the recorded input-with-defaults; nothing else.
    const out = wire(result.data)
    expect(out).toStrictEqual(parsed ?? value)
    // The canonical form is a fixed point: parsing what was sent gives it back unchanged.
    expect(wire(schema.parse(out))).toStrictEqual(out)
  })

  it.each(invalid)('rejects $name at "$pointer"', ({ value, pointer }) => {
    const result = schema.safeParse(value)
    expect(result.success, `accepted: ${JSON.stringify(value).slice(0, 120)}`).toBe(false)
    expect(pointerOf(result.error!.issues[0]!.path), firstIssue(result)).toBe(pointer)
  })
})

describe('telemetry/1 examples', () => {
  const reports = (reportValid as Valid[]).map((v) => v.value as F.Report)
  const batches = (batchValid as Valid[]).map((v) => v.value as F.Batch)
  const sketches = [
    ...(sketchValid as Valid[]).map((v) => v.value),
    ...[...reports, ...batches.flatMap((b) => b.reports)].flatMap((r) => [r.loadMs, r.latency]),
  ]

  it('carry canonical sketch/1 encodings (what DDSketch.toJSON makes)', () => {
    for (const s of sketches) expect(parseSketch(s).toJSON()).toStrictEqual(s)
  })

  it('keep every example report within 2 KB on the wire', () => {
    for (const r of [...reports, ...batches.flatMap((b) => b.reports)])
      expect(bytes(r), `${r.model} v${r.version} ${r.role}`).toBeLessThanOrEqual(2048)
  })

  it('has a valid typical 20-feature report', () => {
    const report = F.Report.parse(typicalReport.value)
    expect(Object.keys(report.features)).toHaveLength(20)
    expect(wire(report)).toStrictEqual(typicalReport.value)
  })

  // Twenty dense 20-bin histograms take ~1.3 KB of JSON before their names, so a typical report is
  // ~2.3 KB as text; devices send batches gzip-compressed (Content-Encoding: gzip), and that is what
  // crosses the wire.
  it('fits a typical 20-feature report in 2 KB on the wire (gzip), 3 KB as plain JSON', async () => {
    const text = new TextEncoder().encode(JSON.stringify(typicalReport.value))
    const gzipped = await new Response(
      new Blob([text]).stream().pipeThrough(new CompressionStream('gzip')),
    ).arrayBuffer()
    expect(gzipped.byteLength).toBeLessThanOrEqual(2048)
    expect(text.byteLength).toBeLessThanOrEqual(3072)
  })
})
