import { EdgefleetError } from '../../core/errors.ts'

/**
 * Refuses a webhook that would carry events in clear text from a production edge: its URL must use
 * https there (local and test edges may post to http://127.0.0.1). 400 `validation_failed` at
 * `/webhook/url`, before anything is stored.
 */
export function requireHttpsInProduction(env: Pick<Env, 'ENVIRONMENT'>, webhook: { url: string } | undefined): void {
  if (webhook && env.ENVIRONMENT === 'production' && !webhook.url.startsWith('https://'))
    throw new EdgefleetError('validation_failed', 'a production webhook must use https', { pointer: '/webhook/url' })
}
