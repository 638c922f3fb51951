import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { expect } from 'vitest'
import type { Arm } from '../../core/formats/common.ts'
import { RolloutView } from '../../core/formats/rollout.ts'
import type { Report } from '../../core/formats/telemetry.ts'
import { armOf } from '../../core/rollout/assign.ts'
import { DDSketch } from '../../core/sketch/DDSketch.ts'
import type { ModelControl } from '../../edge/control/model-control.ts'
import { modelControl } from '../../edge/control/stub.ts'
import { api, bodyOf, upload } from './api.ts'
import { makeBatch, makeReport, postBatch } from './telemetry-fixtures.ts'
import { PROFILE } from '../helpers/telemetry.ts'

export const MIN = 60_000

/** Publishes another version of a model (same profile) and returns its number. */
export async function publishVersion(model: string, seed: number): Promise<number> {
  const file = await upload('model.onnx', new Uint8Array([9, 8, 7, seed & 255, (seed >> 8) & 255]))
  const res = await api('POST', `/v1/models/${model}/versions`, { body: { files: [file], profile: PROFILE } })
  if (res.status !== 201) throw new Error(`publish failed: ${res.status} ${await res.text()}`)
  return (await bodyOf(res)).version
}

/** The ModelControl of a model. */
export function control(model: string) {
  return modelControl(env, model)
}

/** The two canary steps the rollout suites walk: `firstPercent` of the devices, then all of them. */
export function canarySteps(firstPercent = 20) {
  return [
    { percent: firstPercent, minDevices: 5, minInferences: 50 },
    { percent: 100, minDevices: 5 },
  ]
}

/**
 * Starts a canary rollout of `model` (the steps of `canarySteps()`, judged every 30 s, assignments
 * cached 5 s, unless `body` says otherwise) and expects it started.
 */
export async function startCanary(model: string, body: { candidate: number } & Record<string, unknown>) {
  const res = await api('POST', `/v1/models/${model}/rollouts`, {
    body: { mode: 'canary', steps: canarySteps(), evaluationSeconds: 30, ttlSeconds: 5, ...body },
  })
  expect(res.status, await res.clone().text()).toBe(201)
  return RolloutView.parse(await bodyOf(res))
}

/**
 * Expects each guardrail refused by `POST …/rollouts` with 400 `validation_failed`, at `pointer` when
 * one is given, and the model's current rollout (or its absence) left as it was.
 */
export async function expectGuardrailsRefused(
  model: string,
  candidate: number,
  cases: readonly (readonly [guardrail: unknown, pointer?: string])[],
): Promise<void> {
  const current = async () => {
    const res = await api('GET', `/v1/models/${model}/rollouts/current`)
    return `${res.status} ${await res.text()}`
  }
  const before = await current()
  for (const [guardrail, pointer] of cases) {
    const res = await api('POST', `/v1/models/${model}/rollouts`, {
      body: { candidate, mode: 'canary', steps: [{ percent: 100, minDevices: 5 }], guardrails: [guardrail] },
    })
    expect(res.status, JSON.stringify(guardrail)).toBe(400)
    expect((await bodyOf(res)).error).toMatchObject({ code: 'validation_failed', ...(pointer ? { pointer } : {}) })
  }
  expect(await current()).toBe(before)
}

/** Runs ModelControl's alarm with its clock at `at`. */
export async function alarmAt(model: string, at: number): Promise<void> {
  const stub = control(model)
  await runInDurableObject(stub, (c: ModelControl) => {
    c.now = () => at
  })
  await runDurableObjectAlarm(stub)
}

/** Sets ModelControl's clock (actions and starts use it too). */
export async function clockAt(model: string, at: number): Promise<void> {
  await runInDurableObject(control(model), (c: ModelControl) => {
    c.now = () => at
  })
}

/** `n` device ids of a rollout's arm at `percent` (found by bucket/1, as the edge assigns). */
export function devicesIn(rolloutId: string, percent: number, arm: Arm, n: number, tag = 'd'): string[] {
  const out: string[] = []
  for (let i = 0; out.length < n; i++) {
    const id = `dev_${tag}_${i.toString().padStart(6, '0')}`
    if (armOf({ id: rolloutId, percent }, id, { webgpu: false }) === arm) out.push(id)
  }
  return out
}

/** Options of one device's synthetic report inside a rollout. */
export interface ArmReport {
  model: string
  rollout: string
  arm: Arm
  version: number
  start: number
  role?: 'primary' | 'shadow'
  inferences?: number
  errors?: number
  /** Every inference took this long (ms). */
  latencyMs?: number
  /** A shadow report's comparison with the primary it ran behind. */
  shadow?: { compared: number; agreed: number; meanAbsDiff: number }
  /** Data-quality counts per input feature. */
  quality?: Report['quality']
  /** Calibrated-confidence sums (a version with a calibration map). */
  calibrated?: Report['calibrated']
  /** Loads in the report (default: as the generator drew) and device health counts. */
  loads?: number
  health?: Report['health']
}

/** A report as a device in the arm sends it (seeded histograms, chosen counts and latency). */
export function armReport(rand: () => number, o: ArmReport): Report {
  const base = makeReport(rand, {
    model: o.model,
    version: o.version,
    start: o.start,
    role: o.role,
    rollout: { id: o.rollout, arm: o.arm },
    inferences: o.inferences ?? 20,
  })
  const latency = new DDSketch()
  latency.add(o.latencyMs ?? 4, base.counts.inferences)
  return {
    ...base,
    counts: {
      ...base.counts,
      errors: o.errors ?? 0,
      ...(o.loads === undefined ? {} : { loads: o.loads, cacheHits: 0 }),
    },
    ...(o.loads === undefined ? {} : { loadMs: loadTimes(o.loads) }),
    fallbacks: {},
    latency: latency.toJSON(),
    ...(o.shadow ? { shadow: o.shadow } : {}),
    ...(o.quality ? { quality: o.quality } : {}),
    ...(o.calibrated ? { calibrated: o.calibrated } : {}),
    ...(o.health ? { health: o.health } : {}),
  }
}

function loadTimes(n: number): Report['loadMs'] {
  const s = new DDSketch()
  if (n > 0) s.add(50, n)
  return s.toJSON()
}

/** Each device sends one report (one batch); every batch must be accepted. */
export async function sendReports(
  key: string,
  devices: string[],
  rand: () => number,
  o: Omit<ArmReport, 'arm'> & { arm: Arm },
): Promise<void> {
  for (const d of devices) {
    const res = await postBatch(makeBatch(d, [armReport(rand, o)]), key)
    expect(res.status).toBe(202)
  }
}

/** Events of a model, oldest first, optionally of one type. */
export async function eventsOf(model: string, type?: string): Promise<any[]> {
  const q = type
    ? env.DB.prepare('SELECT * FROM events WHERE model = ?1 AND type = ?2 ORDER BY seq').bind(model, type)
    : env.DB.prepare('SELECT * FROM events WHERE model = ?1 ORDER BY seq').bind(model)
  return (await q.all<any>()).results.map((r) => ({ ...r, details: JSON.parse(r.details) }))
}

/** The device's assignment through the real route. */
export async function assignOf(model: string, key: string, device: string, caps = 'webgpu:0'): Promise<any> {
  const res = await api('GET', `/v1/assign/${model}?device=${device}&caps=${caps}`, {
    token: null,
    headers: { 'X-Edgefleet-Key': key },
  })
  expect(res.status).toBe(200)
  return bodyOf(res)
}
