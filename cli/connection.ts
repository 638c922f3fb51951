import { type Command, Option } from 'commander'
import { EdgefleetError, isEdgefleetError } from '../core/errors.ts'
import { createEdgeClient, type EdgeClient } from './edge-client.ts'

/** The edge a local `npm start` serves. */
export const DEFAULT_EDGE_URL = 'http://127.0.0.1:8787'

/** The flags every registry command takes. */
export interface ConnectionFlags {
  url: string
  token?: string
  json?: boolean
}

/** Adds `--url` (env EDGEFLEET_URL), `--token` (env EDGEFLEET_TOKEN) and `--json` to a registry command. */
export function withConnection(command: Command): Command {
  return command
    .addOption(new Option('--url <url>', 'the edge').env('EDGEFLEET_URL').default(DEFAULT_EDGE_URL))
    .addOption(new Option('--token <token>', 'an API token').env('EDGEFLEET_TOKEN'))
    .option('--json', 'print JSON')
}

/** A client for the edge the flags name; a missing token fails here, before any request. */
export function clientOf(flags: ConnectionFlags): EdgeClient {
  if (flags.token === undefined || flags.token === '')
    throw new EdgefleetError('unauthorized', 'no token: pass --token or set EDGEFLEET_TOKEN')
  return createEdgeClient({ url: flags.url, token: flags.token })
}

/** One line for an error: `<code>: <message> (at <pointer>)`, the pointer only when it names a field. */
export function describeError(e: EdgefleetError): string {
  const pointer = e.pointer === undefined || e.pointer === '' ? '' : ` (at ${e.pointer})`
  return `${e.code}: ${e.message}${pointer}`
}

/**
 * Wraps a command action so its EdgefleetErrors (the edge's, or a local file's) reach `run()` as one
 * line carrying the code and pointer: `edgefleet: conflict: version 2 is aliased … (at /deprecated)`.
 */
export function edgeAction<A extends unknown[]>(action: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async function edgeCommandAction(...args) {
    try {
      await action(...args)
    } catch (e) {
      if (!isEdgefleetError(e)) throw e
      throw new EdgefleetError(e.code, describeError(e), { pointer: e.pointer, cause: e })
    }
  }
}
