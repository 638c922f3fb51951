import { Command } from 'commander'
import type { Event } from '../../core/formats/registry.ts'
import { clientOf, edgeAction, withConnection, type ConnectionFlags } from '../connection.ts'
import type { Io } from '../io.ts'
import { intOption } from '../options.ts'
import { secondsOption } from '../registry-args.ts'
import { stepLabel } from '../rollout-report.ts'
import { count } from '../units.ts'

interface EventFlags extends ConnectionFlags {
  model?: string
  type?: string
  limit?: number
  after?: string
  follow?: boolean
  interval: number
}

/** The largest page the edge serves. */
const PAGE_SIZE = 500

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** `edgefleet events`: the audit trail, oldest first, one line per event; `--follow` keeps polling for new ones. */
export function eventsCommand(io: Io): Command {
  return withConnection(
    new Command('events')
      .description('print the audit trail, oldest first: time, type, model, actor, details')
      .option('--model <model>', 'only this model')
      .option('--type <type>', 'only this type (alias.moved) or family (rollout.*)')
      .option('--limit <n>', 'stop after n events', intOption(1, Number.MAX_SAFE_INTEGER))
      .option('--after <cursor>', 'start after this cursor (an event seq)')
      .option('-f, --follow', 'keep polling for new events (Ctrl-C to stop)')
      .option('--interval <seconds>', 'poll interval with --follow', secondsOption, 2),
  )
    .addHelpText('after', '\n--json prints JSON Lines: one event object per line.')
    .action(
      edgeAction(async (flags: EventFlags) => {
        const client = clientOf(flags)
        const limit = flags.limit ?? Infinity
        let after = flags.after
        let printed = 0
        for (;;) {
          const page = await client.listEvents({
            model: flags.model,
            type: flags.type,
            after,
            limit: Math.min(PAGE_SIZE, limit - printed),
          })
          for (const e of page.events) io.out(flags.json === true ? `${JSON.stringify(e)}\n` : `${formatEvent(e)}\n`)
          printed += page.events.length
          if (printed >= limit) return
          // `next` is the cursor after the last event, also on the last page: following resumes from it.
          after = page.next ?? after
          if (page.hasMore) continue
          if (flags.follow !== true) return
          await sleep(flags.interval * 1000)
        }
      }),
    )
}

/**
 * One readable line per event: `2026-04-26T04:45:21.123Z  alias.moved  weather  admin  production v1 → v2`.
 */
export function formatEvent(e: Event): string {
  return [new Date(e.at).toISOString(), e.type.padEnd(18), (e.model ?? '-').padEnd(16), e.actor, describeDetails(e)]
    .join('  ')
    .trimEnd()
}

function describeDetails(e: Event): string {
  const d = e.details
  switch (e.type) {
    case 'model.created':
      return `format=${String(d.format)} task=${String(d.task)}`
    case 'version.published': {
      const lineage = (d.lineage ?? {}) as { parent?: number }
      return `v${String(d.version)} (${count(Number(d.files), 'file')}${lineage.parent === undefined ? '' : `, parent v${lineage.parent}`})`
    }
    case 'version.deprecated':
      return `v${String(d.version)}`
    case 'alias.moved':
      return `${String(d.alias)} ${d.from === null || d.from === undefined ? '' : `v${String(d.from)} `}→ v${String(d.to)}`
    case 'token.created':
      return `${String(d.id)} "${String(d.name)}" scopes=${Array.isArray(d.scopes) ? d.scopes.join(',') : String(d.scopes)}`
    case 'token.revoked':
      return `${String(d.id)} "${String(d.name)}"`
    case 'rollout.started':
      return describeRolloutStart(d)
    case 'rollout.advanced':
    case 'rollout.rolled_back':
    case 'rollout.promoted':
    case 'rollout.paused':
    case 'rollout.resumed':
      return describeTransition(d)
    case 'retrain.requested':
      return `v${String(d.version)}: ${String(d.reason)}`
    default:
      return compactDetails(d)
  }
}

/** Longest value printed in full in a generic event line; `--json` has everything. */
const MAX_VALUE_CHARS = 60

/** `key=value …` with nested objects and long values shortened, so one event stays one readable line. */
function compactDetails(d: Record<string, unknown>): string {
  return Object.entries(d)
    .map(([k, v]) => {
      const text = typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)
      return `${k}=${text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 1)}…` : text}`
    })
    .join(' ')
}

/** `ro_… canary v1 → v2 at 1% (steps 1, 5, 25, 100%; 2 guardrails)`. */
function describeRolloutStart(d: Record<string, unknown>): string {
  const config = (d.config ?? {}) as { steps?: { percent: number }[]; guardrails?: unknown[] }
  const steps = (config.steps ?? []).map((s) => s.percent)
  const guardrails = config.guardrails?.length ?? 0
  const baseline = d.baseline === undefined || d.baseline === null ? '' : `v${String(d.baseline)} → `
  return (
    `${String(d.rollout)} ${String(d.mode)} ${baseline}v${String(d.candidate)} at ${String(d.percent)}%` +
    ` (steps ${steps.join(', ')}%; ${count(guardrails, 'guardrail')})`
  )
}

/** `ro_… step 2/4 (5%) → step 3/4 (25%): reason`, steps counted from 1 as `rollout status` shows them. */
function describeTransition(d: Record<string, unknown>): string {
  type Side = { status?: string; step?: number; percent?: number }
  const steps = typeof d.steps === 'number' ? d.steps : undefined
  const side = (s: Side | undefined) => {
    if (!s || typeof s.step !== 'number') return '?'
    const label = steps === undefined ? `step ${s.step + 1}` : stepLabel(s.step, steps)
    const state = s.status && s.status !== 'running' ? ` ${s.status}` : ''
    return `${label} (${String(s.percent)}%)${state}`
  }
  return `${String(d.rollout)} ${side(d.from as Side)} → ${side(d.to as Side)}: ${String(d.reason)}`
}
