/**
 * @module
 * `edgefleet retrain --watch --config retrainer.json`: the unattended retrainer. Hears
 * `retrain.requested` from the edge's signed webhook or, without one, by polling `GET /v1/events`
 * with a persisted cursor; runs one retrain per event (serially, the event id as the trigger, so the
 * edge refuses a second run for it), publishes and starts the rollout the config names.
 */
import { createServer, type Server } from 'node:http'
import { EdgefleetError } from '../../core/errors.ts'
import type { RunTrigger } from '../../core/formats/run.ts'
import { clientOf, type ConnectionFlags } from '../connection.ts'
import type { Io } from '../io.ts'
import { readRolloutTemplate } from '../commands/retrain.ts'
import { readCursor, writeCursor } from './event-cursor.ts'
import { loadData } from './data-source.ts'
import { retrain } from './retrain.ts'
import { checkDelivery, SeenEvents, type TriggerEvent } from './trigger-receiver.ts'
import { resolveSecret, type RetrainerConfig } from './watch-config.ts'

/** Largest webhook body accepted. */
const MAX_BODY_BYTES = 64 * 1024

/** Handles one trigger event with the model's job; a line per outcome, never throws. */
export async function handleTrigger(
  io: Io,
  flags: ConnectionFlags,
  config: RetrainerConfig,
  event: TriggerEvent,
): Promise<void> {
  const job = config.models[event.model]
  if (job === undefined) {
    io.err(`${event.id}: no job for model ${event.model} in the config; skipped\n`)
    return
  }
  try {
    const data = await loadData(job.data)
    const rollout =
      job.rollout === undefined
        ? undefined
        : typeof job.rollout === 'string'
          ? await readRolloutTemplate(job.rollout)
          : { name: 'retrainer.json', value: job.rollout }
    const outcome = await retrain(io, flags, {
      model: event.model,
      data,
      label: job.label,
      family: job.family,
      holdout: job.holdout,
      seed: job.seed,
      gates: job.gates,
      trigger: event.id as RunTrigger,
      publish: job.publish,
      rollout,
      progress: (line) => io.err(`${event.id}: ${line}\n`),
    })
    if (outcome.kind === 'already_done') io.err(`${event.id}: already handled by run ${outcome.run.id}\n`)
    else if (outcome.rejection !== null) io.err(`${event.id}: run ${outcome.run.id} rejected: ${outcome.rejection}\n`)
    else
      io.err(
        `${event.id}: run ${outcome.run.id} completed${outcome.run.version === null ? '' : `, published v${outcome.run.version}`}\n`,
      )
  } catch (e) {
    io.err(`${event.id}: ${e instanceof EdgefleetError ? `${e.code}: ${e.message}` : String(e)}\n`)
  }
}

/** Polls `GET /v1/events?type=retrain.requested` from the persisted cursor until `signal` aborts. */
export async function pollTriggers(
  io: Io,
  flags: ConnectionFlags,
  config: RetrainerConfig,
  signal: AbortSignal,
  handle: (event: TriggerEvent) => Promise<void> = (e) => handleTrigger(io, flags, config, e),
): Promise<void> {
  const client = clientOf(flags)
  let after = await readCursor(config.cursorFile)
  while (!signal.aborted) {
    let page
    try {
      page = await client.listEvents({ type: 'retrain.requested', after, limit: 100 })
    } catch (e) {
      // An unattended loop outlives a restarting edge; a refused token or a bad query still stops it.
      if (!(e instanceof EdgefleetError) || e.code !== 'network_error') throw e
      io.err(`${e.message}; retrying in ${config.pollSeconds} s\n`)
      page = { events: [], next: null, hasMore: false }
    }
    for (const e of page.events) {
      if (e.model !== null) await handle({ id: e.id, type: e.type, model: e.model, at: e.at, details: e.details })
      // One event at a time: the cursor moves past an event only once it has been handled.
      after = String(e.seq)
      await writeCursor(config.cursorFile, after)
    }
    if (page.next !== null && page.next !== after) {
      after = page.next
      await writeCursor(config.cursorFile, after)
    }
    if (page.hasMore) continue
    // One listener per wait, removed when the wait ends: a long-running loop must not pile them up.
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t)
        signal.removeEventListener('abort', done)
        resolve()
      }
      const t = setTimeout(done, config.pollSeconds * 1000)
      signal.addEventListener('abort', done, { once: true })
    })
  }
}

/**
 * The webhook listener: 401 on a missing, stale or wrong signature; 200 on a replay (nothing runs
 * again); 202 once an event is queued. Events run one after another.
 */
export function listenForTriggers(
  config: RetrainerConfig,
  handle: (event: TriggerEvent) => Promise<void>,
  now: () => number = Date.now,
): Server {
  const hook = config.webhook
  if (hook === undefined) throw new EdgefleetError('bad_request', 'retrainer.json has no webhook')
  const secret = resolveSecret(hook.secret)
  const seen = new SeenEvents()
  let queue = Promise.resolve()
  return createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== hook.path) {
      res.writeHead(404).end()
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > MAX_BODY_BYTES) req.destroy()
      else chunks.push(c)
    })
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      void checkDelivery(
        secret,
        (req.headers['x-edgefleet-signature'] as string | undefined) ?? null,
        body,
        seen,
        now(),
      ).then((verdict) => {
        if (verdict.value === null) {
          const status = verdict.reason === 'replay' ? 200 : verdict.reason === 'bad_body' ? 400 : 401
          res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ reason: verdict.reason }))
          return
        }
        const event = verdict.value
        queue = queue.then(() => handle(event))
        res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ reason: 'accepted' }))
      })
    })
  }).listen(hook.port, hook.host)
}
