import { transferHandlers, type TransferHandler } from 'comlink'
import { deserializeError, serializeError, type SerializedError } from '../core/wire-error.ts'

/**
 * comlink serializes a thrown Error as `{message, name, stack}` only, so an EdgefleetError's `code`
 * would be lost on the way to the main thread. Both sides replace comlink's `throw` handler with one
 * that sends `core/wire-error.ts`'s plain form and rebuilds an EdgefleetError on arrival.
 *
 * @example registerErrorTransfer() // once, on the main thread and in the worker, before any call
 */
export function registerErrorTransfer(): void {
  const builtin = transferHandlers.get('throw')
  if (builtin === undefined) throw new Error('comlink has no "throw" transfer handler to replace')
  if (isOurs(builtin)) return
  const handler: TransferHandler<{ value: unknown }, SerializedError> & { [MARK]: true } = {
    [MARK]: true,
    // comlink marks thrown values with a private symbol, so recognising them is left to its own test.
    canHandle: (value: unknown): value is { value: unknown } => builtin.canHandle(value),
    serialize: ({ value }) => [serializeError(value), []],
    deserialize: (serialized) => {
      throw deserializeError(serialized)
    },
  }
  transferHandlers.set('throw', handler)
}

const MARK = Symbol('edgefleet.errorTransfer')

function isOurs(handler: object): boolean {
  return MARK in handler
}
