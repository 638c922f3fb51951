import type { WebnnDeviceType } from '../protocol.ts'
import { BackendSkip } from './engine.ts'

/**
 * @module WebNN feature detection (docs/device-health.md, "WebNN"): `navigator.ml` and a context of
 * the device type asked for. TypeScript's DOM lib has no WebNN types, so the one member read is
 * described structurally.
 */

interface MlLike {
  createContext(options?: { deviceType?: WebnnDeviceType }): Promise<unknown>
}

/** The WebNN device asked for when the app names none. */
export const DEFAULT_WEBNN_DEVICE: WebnnDeviceType = 'gpu'

function ml(): MlLike | undefined {
  const it = (globalThis as { navigator?: { ml?: MlLike } }).navigator?.ml
  return it !== undefined && typeof it.createContext === 'function' ? it : undefined
}

/** True when this worker exposes WebNN (`navigator.ml`); whether a context can be made is not tried. */
export function webnnExposed(): boolean {
  return ml() !== undefined
}

/**
 * Resolves when this worker can make a WebNN context of `deviceType`; throws a `not_available`
 * BackendSkip when `navigator.ml` is missing (most browsers today: Chromium ships WebNN behind a flag)
 * or `createContext` refuses the device type.
 */
export async function requireWebnn(deviceType: WebnnDeviceType = DEFAULT_WEBNN_DEVICE): Promise<void> {
  const exposed = ml()
  if (exposed === undefined)
    throw new BackendSkip('not_available', 'navigator.ml is missing: this browser does not expose WebNN')
  try {
    await exposed.createContext({ deviceType })
  } catch (e) {
    throw new BackendSkip(
      'not_available',
      `navigator.ml.createContext({deviceType: '${deviceType}'}) failed: ${e instanceof Error ? e.message : String(e)}`,
    )
  }
}

/** onnxruntime-web's WebNN execution provider for `deviceType` (its `WebNNExecutionProviderOption`). */
export function webnnProvider(deviceType: WebnnDeviceType = DEFAULT_WEBNN_DEVICE): {
  name: 'webnn'
  deviceType: WebnnDeviceType
} {
  return { name: 'webnn', deviceType }
}
