import type { RetrainPolicyInput } from '../core/formats/policy.ts'
import type { RolloutConfig } from '../core/formats/rollout.ts'
import type { CandidateKind } from './candidates.ts'

/** The scenarios `npm run simulate` knows. */
export const SCENARIOS = ['healthy', 'drift', 'bad-candidate', 'shadow', 'offline', 'follow'] as const
export type ScenarioName = (typeof SCENARIOS)[number]

/** What a scenario does: which real days the devices see, what is published and rolled out, what to look at. */
export interface Scenario {
  name: ScenarioName
  /** seattle-weather years the devices feed (2012 is the model's reference year). */
  years: number[]
  /**
   * The fleet sees each day of `years` exactly once over the run (split across devices, paced over
   * the minutes): repeating days would count the same observations again and overstate the evidence
   * of the χ² test. Otherwise devices replay their seeded order of the days.
   */
  once?: boolean
  /** A candidate to publish (trained on `trainYears`), or none. */
  candidate?: { kind: CandidateKind; trainYears: number[] }
  /** The rollout started for the candidate (its version filled in), or none. */
  rollout?: (candidate: number, devices: number, minutes: number) => RolloutConfig
  /** A retraining policy put on the model before the run. */
  policy?: RetrainPolicyInput
  /**
   * Drive the rollout already active on the model (one `edgefleet retrain --watch` or a person
   * started) instead of ending it, and stop as soon as it is promoted or rolled back.
   */
  follow?: boolean
  /** Whether device `i` of `n` is offline at `progress` (0..1) of the run. */
  offline?: (i: number, n: number, progress: number) => boolean
  /** Dashboard paths (after `/dashboard/#/`) and what they show once the run is over. */
  look: { path: string; what: string }[]
}

/** Devices per arm a step waits for: a quarter of the fleet (a 50% split by hash is rarely exact), at least one. */
const perArm = (devices: number) => Math.max(1, Math.floor(devices / 4))

/** The scenario of that name, for model `model`. */
export function scenario(name: ScenarioName, model: string): Scenario {
  const fleet = { path: `models/${model}/telemetry`, what: 'fleet telemetry per version × role × arm' }
  switch (name) {
    case 'healthy':
      return {
        name,
        years: [2012, 2013],
        candidate: { kind: 'retrained', trainYears: [2012, 2013] },
        rollout: (candidate, devices) => ({
          candidate,
          mode: 'canary',
          steps: [
            { percent: 50, minMinutes: 0, minDevices: perArm(devices), minInferences: 20 },
            { percent: 100, minMinutes: 0, minDevices: perArm(devices), minInferences: 20 },
          ],
          guardrails: [
            { metric: 'error_rate', maxDiff: 0.05, minDevices: 2 },
            { metric: 'accuracy', minRatio: 0.8, minLabeled: 30 },
          ],
          evaluationSeconds: 10,
          ttlSeconds: 5,
          alpha: 0.05,
          shadowSampleRate: 0.2,
        }),
        look: [{ path: `models/${model}/rollout`, what: 'the canary walking 50% → 100% and the promotion' }, fleet],
      }
    case 'bad-candidate':
      return {
        name,
        years: [2012, 2013],
        candidate: { kind: 'shuffled-labels', trainYears: [2012] },
        rollout: (candidate, devices) => ({
          candidate,
          mode: 'canary',
          steps: [
            // More inferences per step than the accuracy guardrail needs labels: it is judged before the step ends.
            { percent: 50, minMinutes: 0, minDevices: perArm(devices), minInferences: 200 },
            { percent: 100, minMinutes: 0, minDevices: perArm(devices), minInferences: 200 },
          ],
          guardrails: [
            { metric: 'accuracy', minRatio: 0.9, minLabeled: 30 },
            { metric: 'error_rate', maxDiff: 0.05, minDevices: 2 },
          ],
          evaluationSeconds: 10,
          ttlSeconds: 5,
          alpha: 0.05,
          shadowSampleRate: 0.2,
        }),
        look: [
          { path: `models/${model}/rollout`, what: 'the accuracy guardrail failing and the automatic rollback' },
          { path: 'events', what: 'rollout.rolled_back with its reasons' },
        ],
      }
    case 'shadow':
      return {
        name,
        years: [2012, 2013],
        candidate: { kind: 'retrained', trainYears: [2013, 2014] },
        // One long step: the candidate stays in shadow for the whole run.
        rollout: (candidate, devices, minutes) => ({
          candidate,
          mode: 'shadow',
          steps: [{ percent: 100, minMinutes: Math.ceil(minutes) + 60, minDevices: perArm(devices), minInferences: 0 }],
          guardrails: [],
          evaluationSeconds: 10,
          ttlSeconds: 5,
          alpha: 0.05,
          shadowSampleRate: 1,
        }),
        look: [
          { path: `models/${model}/telemetry`, what: 'shadow agreement between production and the candidate' },
          { path: `models/${model}/rollout`, what: 'the shadow rollout' },
        ],
      }
    case 'drift':
      return {
        name,
        years: [2015],
        once: true,
        policy: {
          when: { anyFeatureDrifted: { consecutiveWindows: 1, minDevices: 1, windowMinutes: 5 } },
          cooldownMinutes: 60,
          graceMinutes: 0,
        },
        look: [
          { path: `models/${model}/telemetry`, what: 'the drift heatmap: temp_max drifted, wind not' },
          {
            path: 'events',
            what: 'retrain.requested once a 5-minute UTC window with drifted data has closed',
          },
        ],
      }
    case 'follow':
      return {
        name,
        years: [2015],
        follow: true,
        look: [
          { path: `models/${model}/rollout`, what: 'the rollout the fleet walked, to its promotion or rollback' },
          { path: `models/${model}/telemetry`, what: 'drift per version: the candidate against the one it replaces' },
          { path: 'events', what: 'retrain.requested → retrain.completed → rollout.* in order' },
        ],
      }
    case 'offline':
      return {
        name,
        years: [2012],
        // Every other device loses its network for the middle third of the run.
        offline: (i, _n, progress) => i % 2 === 0 && progress >= 1 / 3 && progress < 2 / 3,
        look: [fleet, { path: 'events', what: 'nothing lost: queued telemetry arrives after reconnecting' }],
      }
  }
}
