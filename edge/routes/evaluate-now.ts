import { z } from '@hono/zod-openapi'
import { EdgefleetError } from '../../core/errors.ts'

/**
 * The body of `POST …/evaluate` (retraining policy, SLOs): `closeOpenWindow`, described by `what` it
 * does to the window still open. The whole body may be left out.
 */
export function evaluateNowRequest(what: string) {
  return z
    .strictObject({
      closeOpenWindow: z
        .boolean()
        .default(false)
        .describe(`${what} (ENVIRONMENT=development only: refused with 403 elsewhere)`),
    })
    .default({ closeOpenWindow: false })
}

/** 403 `forbidden` for `closeOpenWindow` outside local development: it judges data not yet complete. */
export function allowCloseOpenWindow(env: Env, closeOpenWindow: boolean): void {
  if (closeOpenWindow && env.ENVIRONMENT !== 'development')
    throw new EdgefleetError(
      'forbidden',
      'closeOpenWindow is a local-development aid: refused unless ENVIRONMENT is development',
      { pointer: '/closeOpenWindow' },
    )
}
