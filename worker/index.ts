/**
 * The inference worker's entry: a module Worker exposing `WorkerApi` (protocol.ts) over comlink.
 * The SDK ships it as one self-contained ESM bundle; engines load lazily on the first model that needs them.
 */
import { expose } from 'comlink'
import { registerErrorTransfer } from './comlink-errors.ts'
import { WorkerRuntime } from './worker-runtime.ts'

// Held for the worker's whole life (its name is a lock name unique to it): the page is granted the lock
// only once this worker is gone, crashed or closed, and so learns of it (client/worker-host.ts). The
// worker's request and the page's travel to the browser's lock manager on different channels, so the
// first answer (capabilities) waits until this lock is granted: asking only then, the page cannot come first.
const lockName = (globalThis as { name?: string }).name
const held = new Promise<void>((granted) => {
  if (lockName?.startsWith('edgefleet:') && typeof navigator !== 'undefined' && navigator.locks)
    void navigator.locks.request(lockName, () => {
      granted()
      return new Promise<never>(() => {})
    })
  else granted()
})
registerErrorTransfer()
expose(new WorkerRuntime(Date.now, held))
