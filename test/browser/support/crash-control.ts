/**
 * @module
 * The page side of the crash switch (support/crash-switch.ts): a crashing worker's URL on a channel of
 * its own, and the call that arms it. Each test file names its own channel, so files running side by
 * side never arm each other's workers.
 */

/** The SDK's worker, crashed on demand (support/crashing-worker.ts), listening on `channel`. */
export function crashingWorkerUrl(channel: string): URL {
  return new URL(`/test/browser/support/crashing-worker.ts?worker_file&type=module&crash=${channel}`, location.origin)
}

/** Arms the worker on `channel`: its next call closes it. Resolves once the worker has heard. */
export function armCrash(channel: string): Promise<void> {
  const bc = new BroadcastChannel(channel)
  return new Promise((resolve) => {
    bc.onmessage = () => {
      bc.close()
      resolve()
    }
    bc.postMessage('crash')
  })
}
