/**
 * @module
 * The worker thread's side of mlp-thread.ts: trains on the job it was given, posts every epoch, then
 * the result (the ONNX bytes transferred) or the error.
 */
import { parentPort, workerData } from 'node:worker_threads'
import type { MlpJob, MlpThreadMessage } from './mlp-thread.ts'
import { trainTabularMlp } from './tabular-mlp.ts'

const port = parentPort!
const post = (m: MlpThreadMessage, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer)
const { train, signature, label, options } = (workerData as { job: MlpJob }).job
try {
  const trained = trainTabularMlp(train, signature, label, {
    ...options,
    onEpoch: (epoch, epochs, loss) => post({ kind: 'epoch', epoch, epochs, loss }),
  })
  post({ kind: 'done', onnx: trained.onnx, hyper: trained.hyper }, [trained.onnx.buffer as ArrayBuffer])
} catch (e) {
  post({ kind: 'error', message: e instanceof Error ? e.message : String(e) })
}
