/**
 * @module
 * Trains the `mlp` family on a worker thread, so the process that asked stays responsive: the
 * retrainer's webhook receiver keeps answering deliveries and the progress bar keeps drawing while
 * the epochs run. The thread runs the same `trainTabularMlp` (tabular-mlp.ts) on a copy of the rows and
 * hands back the ONNX bytes (transferred, not copied) and the hyper-parameters; its epochs arrive as
 * messages, in order, before the result.
 */
import { Worker } from 'node:worker_threads'
import { fileURLToPath } from 'node:url'
import { EdgefleetError } from '../core/errors.ts'
import type { MlpOptions } from './tabular-mlp.ts'
import type { TrainedClassifier } from './tabular-lda.ts'
import type { TabularSignature } from './tabular-signature.ts'

/** What the thread is given (worker data is copied by structured clone). */
export interface MlpJob {
  train: readonly Record<string, unknown>[]
  signature: TabularSignature
  label: string
  options: Omit<Partial<MlpOptions>, 'onEpoch'> & { seed: number }
}

/** What the thread says: each epoch, then the result or the error that ended it. */
export type MlpThreadMessage =
  | { kind: 'epoch'; epoch: number; epochs: number; loss: number }
  | { kind: 'done'; onnx: Uint8Array; hyper: TrainedClassifier['hyper'] }
  | { kind: 'error'; message: string }

// The thread starts as plain JavaScript that registers TypeScript the way bin/edgefleet.js does, then
// imports the TypeScript entry, so it runs from any working directory and without a build step.
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads')
import(workerData.tsx).then(({ register }) => {
  register({ tsconfig: workerData.tsconfig })
  return import(workerData.entry)
})
`

/** Trains the MLP on a worker thread; `onEpoch` is called on this thread for each epoch. */
export function trainTabularMlpInThread(
  job: MlpJob,
  onEpoch?: (epoch: number, epochs: number, loss: number) => void,
): Promise<TrainedClassifier> {
  const worker = new Worker(BOOTSTRAP, {
    eval: true,
    workerData: {
      tsx: import.meta.resolve('tsx/esm/api'),
      tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)),
      entry: new URL('./mlp-thread-entry.ts', import.meta.url).href,
      job,
    },
  })
  return new Promise<TrainedClassifier>((resolve, reject) => {
    let settled = false
    const settle = (fn: () => void) => {
      if (settled) return
      settled = true
      fn()
      void worker.terminate()
    }
    worker.on('message', (m: MlpThreadMessage) => {
      if (m.kind === 'epoch') onEpoch?.(m.epoch, m.epochs, m.loss)
      else if (m.kind === 'done') settle(() => resolve({ onnx: m.onnx, hyper: m.hyper }))
      else settle(() => reject(new EdgefleetError('bad_request', `mlp training failed: ${m.message}`)))
    })
    worker.on('error', (e) => settle(() => reject(e)))
    worker.on('exit', (code) =>
      settle(() => reject(new Error(`the mlp training thread ended (exit code ${code}) before its result`))),
    )
  })
}
