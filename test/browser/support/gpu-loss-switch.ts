/**
 * @module
 * A device-loss switch for a worker, imported before the SDK's worker (support/gpu-losing-worker.ts).
 * It reaches the GPUDevice the way an app could, through onnxruntime-web's `env.webgpu.device` (the
 * same module instance the worker's engine imported), and destroys it on the page's word, sent on the
 * BroadcastChannel `edgefleet-gpu-loss`:
 * - `now`: destroys the device at once, between calls;
 * - `next-call`: destroys it when the next message from the page arrives, just before the worker
 *   handles it, so the call is in flight on a device already lost.
 * It answers `lost` or `armed`, or `no-device` when no WebGPU session made a device yet.
 */
interface DestroyableDevice {
  destroy(): void
}

let armed: DestroyableDevice | undefined
const channel = new BroadcastChannel('edgefleet-gpu-loss')
channel.onmessage = async (e: MessageEvent<'now' | 'next-call'>) => {
  const ort = await import('onnxruntime-web/webgpu')
  const device = (await ort.env.webgpu.device) as unknown as DestroyableDevice | undefined
  if (device === undefined || typeof device.destroy !== 'function') {
    channel.postMessage('no-device')
    return
  }
  if (e.data === 'now') {
    device.destroy()
    channel.postMessage('lost')
  } else {
    armed = device
    channel.postMessage('armed')
  }
}
// Registered before comlink's listener, so it runs first; the call then goes on to the worker.
self.addEventListener('message', () => {
  armed?.destroy()
  armed = undefined
})
