/**
 * The inference worker's entry: a module Worker exposing `WorkerApi` (protocol.ts) over comlink.
 * The SDK ships it as one self-contained ESM bundle; engines load lazily on the first model that needs them.
 */
import { expose } from 'comlink'
import { registerErrorTransfer } from './comlink-errors.ts'
import { WorkerRuntime } from './worker-runtime.ts'

// Held for the worker's whole life (its name is a lock name unique to it): the page is granted the lock
// only once this worker is gone, crashed or closed, and so learns of it (client/worker-host.ts).
const lockName = (globalThis as { name?: string }).name
if (lockName?.startsWith('edgefleet:') && typeof navigator !== 'undefined' && navigator.locks)
  void navigator.locks.request(lockName, () => new Promise<never>(() => {}))
registerErrorTransfer()
expose(new WorkerRuntime())
