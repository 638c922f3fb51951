/**
 * The inference worker's entry: a module Worker exposing `WorkerApi` (protocol.ts) over comlink.
 * The SDK ships it as one self-contained ESM bundle; engines load lazily on the first model that needs them.
 */
import { expose } from 'comlink'
import { registerErrorTransfer } from './comlink-errors.ts'
import { WorkerRuntime } from './worker-runtime.ts'

registerErrorTransfer()
expose(new WorkerRuntime())
