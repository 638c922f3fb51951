/**
 * @module
 * `retrainer.json`: what the unattended retrainer does per model (data source, label, family, gates,
 * rollout template) and how it hears `retrain.requested` (a webhook listener, or polling the events
 * with a persisted cursor when no webhook is configured).
 *
 * @example
 * {"cursorFile": ".edgefleet-cursor",
 *  "models": {"weather": {"data": {"url": "https://data.example.com/weather-recent.csv"}, "label": "weather",
 *   "family": "lda", "gates": ["accuracy:min=0.7"], "rollout": "rollout.json"}}}
 */
import { z } from 'zod'
import { RunFamily } from '../../core/formats/run.ts'
import { parseGate } from '../../core/retrain/gates.ts'

const Gate = z.string().transform((text, ctx) => {
  try {
    return parseGate(text)
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message })
    return z.NEVER
  }
})

const DataSource = z.union([
  z.object({ path: z.string().min(1), format: z.string().optional() }).strict(),
  z
    .object({
      url: z.string().regex(/^https?:\/\//i, 'an http(s) URL'),
      format: z.string().optional(),
      headers: z.record(z.string(), z.string()).optional(),
    })
    .strict(),
  z
    .object({ command: z.string().min(1), args: z.array(z.string()).optional(), format: z.string().optional() })
    .strict(),
])

const ModelJob = z
  .object({
    data: DataSource,
    label: z.string().min(1),
    family: RunFamily.default('lda'),
    holdout: z.number().gt(0).lt(1).default(0.2),
    seed: z.number().int().min(0).default(1),
    gates: z.array(Gate).default([]),
    publish: z.boolean().default(true),
    /** A RolloutConfig template (inline, or a file name) started for the published version. */
    rollout: z.union([z.string(), z.record(z.string(), z.unknown())]).optional(),
  })
  .strict()

/** The whole `retrainer.json`. */
export const RetrainerConfig = z
  .object({
    /** Listen for the edge's webhook here; without it the retrainer polls `GET /v1/events`. */
    webhook: z
      .object({
        port: z.number().int().min(0).max(65_535),
        host: z.string().default('127.0.0.1'),
        path: z.string().startsWith('/').default('/hooks/edgefleet'),
        /** The policy's webhook secret, or `env:NAME` to read it from the environment. */
        secret: z.string().min(1),
      })
      .strict()
      .optional(),
    cursorFile: z.string().min(1).default('.edgefleet-retrainer-cursor'),
    pollSeconds: z.number().positive().default(5),
    models: z.record(z.string(), ModelJob).refine((m) => Object.keys(m).length > 0, 'at least one model'),
  })
  .strict()
export type RetrainerConfig = z.output<typeof RetrainerConfig>
export type ModelJob = z.output<typeof ModelJob>

/** A secret as written in the config: `env:NAME` reads the environment variable. */
export function resolveSecret(value: string, env: NodeJS.ProcessEnv = process.env): string {
  if (!value.startsWith('env:')) return value
  const v = env[value.slice(4)]
  if (v === undefined || v === '') throw new Error(`webhook.secret: environment variable ${value.slice(4)} is not set`)
  return v
}
