/**
 * @module
 * A device-loss switch for a worker, imported before the SDK's worker (support/gpu-losing-worker.ts).
 * It reaches the GPUDevice the way an app could, through onnxruntime-web's `env.webgpu.device` (the
 * same module instance the worker's engine imported), and destroys it on the page's word, sent on the
 * BroadcastChannel `edgefleet-gpu-loss`:
 * - `now`: destroys the device at once, between calls;
 * - `next-call`: destroys it when the next message from the page (a call) arrives, and hands that call
 *   to the worker only once the device's `lost` promise has resolved: the call is in flight from the
 *   page's side while the device goes, whatever the timing of Chromium's announcement. (A run already
 *   under way at the announcement is test/unit/worker/fallback-engine.test.ts's case.)
 * It answers `lost` or `armed`, or `no-device` when no WebGPU session made a device yet.
 */
interface DestroyableDevice {
  destroy(): void
  readonly lost: Promise<unknown>
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
    await device.lost
    channel.postMessage('lost')
  } else {
    armed = device
    channel.postMessage('armed')
  }
}
// Registered before comlink's listener, so it sees each call first.
self.addEventListener('message', (e) => {
  const device = armed
  if (device === undefined) return
  armed = undefined
  e.stopImmediatePropagation()
  device.destroy()
  void device.lost.then(() => self.dispatchEvent(new MessageEvent('message', { data: e.data })))
})

// A module, not a script: its names stay its own.
export {}
