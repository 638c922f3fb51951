import { releaseProxy, transfer, wrap, type Remote } from 'comlink'
import { EdgefleetError } from '../core/errors.ts'
import { registerErrorTransfer } from '../worker/comlink-errors.ts'
import type { LoadRequest, LoadResult, WorkerApi, WorkerCapabilities } from '../worker/protocol.ts'
import type { RuntimeGroup } from '../core/runtime-files.ts'

/** The SDK's one inference worker, seen from the main thread. */
export interface WorkerHost {
  api: Remote<WorkerApi>
  capabilities: WorkerCapabilities
  /** Runtime groups already handed to the worker (each is sent once: it keeps them). */
  sentRuntime: Set<RuntimeGroup>
  /** Whether the worker runs the TensorFlow.js engine already (its module is sent once). */
  tfjsEngineLoaded: boolean
  /** Sends a load, transferring (not copying) the model and runtime bytes. */
  load(request: LoadRequest): Promise<LoadResult>
  terminate(): void
}

async function workerScriptUrl(workerUrl?: string | URL): Promise<{ url: string | URL; revoke?: () => void }> {
  if (workerUrl) return { url: workerUrl }
  const { default: source } = await import('./worker-source.ts')
  if (!source)
    throw new EdgefleetError(
      'backend_unavailable',
      'this build of the SDK has no bundled worker: pass workerUrl, or use the built package (npm run build:sdk)',
    )
  const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }))
  return { url, revoke: () => URL.revokeObjectURL(url) }
}

/**
 * Starts the module worker (from `workerUrl`, or the bundled source as a blob) and asks what it can run.
 * The worker holds a Web Lock named after it for its whole life; when the page is granted that lock the
 * worker is gone (crashed, or closed by the browser): every call in flight and every later call on this
 * host rejects with `backend_unavailable`, and `onGone` runs so the owner starts another worker.
 */
export async function startWorker(workerUrl?: string | URL, onGone?: () => void): Promise<WorkerHost> {
  registerErrorTransfer()
  const { url, revoke } = await workerScriptUrl(workerUrl)
  const lockName = `edgefleet:${crypto.randomUUID()}`
  const worker = new Worker(url, { type: 'module', name: lockName })
  const remote = wrap<WorkerApi>(worker)
  let capabilities: WorkerCapabilities
  try {
    capabilities = await remote.capabilities()
  } catch (e) {
    worker.terminate()
    throw e
  } finally {
    revoke?.()
  }
  let terminated = false
  let died!: (e: EdgefleetError) => void
  const gone = new Promise<never>((_, reject) => (died = reject))
  gone.catch(() => undefined)
  void navigator.locks?.request(lockName, () => {
    if (terminated) return
    died(
      new EdgefleetError(
        'backend_unavailable',
        'the inference worker stopped (it crashed or the browser closed it); load the model again',
      ),
    )
    onGone?.()
  })
  // Every call races the worker's end, so none waits for an answer that can no longer come.
  const api = new Proxy(remote, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver)
      if (typeof prop === 'symbol' || prop === 'then') return value
      return (...args: unknown[]) => Promise.race([(value as (...a: unknown[]) => Promise<unknown>)(...args), gone])
    },
  }) as Remote<WorkerApi>
  return {
    api,
    capabilities,
    sentRuntime: new Set(),
    tfjsEngineLoaded: false,
    load(request) {
      const buffers = [...Object.values(request.files)]
      for (const group of Object.values(request.runtime ?? {}))
        if (group) buffers.push(...(Object.values(group) as ArrayBuffer[]))
      return api.load(transfer(request, buffers))
    },
    terminate() {
      terminated = true
      remote[releaseProxy]()
      worker.terminate()
    },
  }
}
