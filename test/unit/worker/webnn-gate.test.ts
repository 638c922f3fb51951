import { afterEach, describe, expect, it, vi } from 'vitest'
import { requireWebnn, webnnExposed, webnnProvider } from '../../../worker/engines/webnn-gate.ts'
import { BackendSkip } from '../../../worker/engines/engine.ts'

/** `navigator.ml` stubbed at the one member WebNN detection reads. */
function stubMl(createContext: ((o: { deviceType: string }) => Promise<unknown>) | undefined): string[] {
  const asked: string[] = []
  vi.stubGlobal('navigator', {
    ...(createContext === undefined
      ? {}
      : {
          ml: {
            createContext: (o: { deviceType: string }) => {
              asked.push(o.deviceType)
              return createContext(o)
            },
          },
        }),
  })
  return asked
}

const skipOf = (p: Promise<unknown>) =>
  p.then(
    () => 'passed',
    (e: unknown) => (e instanceof BackendSkip ? `${e.reason}|${e.message}` : String(e)),
  )

afterEach(() => vi.unstubAllGlobals())

describe('WebNN detection', () => {
  it('is not_available without navigator.ml', async () => {
    stubMl(undefined)
    expect(await skipOf(requireWebnn('gpu'))).toBe(
      'not_available|not_available: navigator.ml is missing: this browser does not expose WebNN',
    )
  })

  it('reports WebNN exposed only for a navigator.ml with createContext, without making a context', () => {
    stubMl(undefined)
    expect(webnnExposed()).toBe(false)
    vi.stubGlobal('navigator', { ml: {} })
    expect(webnnExposed()).toBe(false)
    const asked = stubMl(async () => ({}))
    expect(webnnExposed()).toBe(true)
    expect(asked).toEqual([])
  })

  it('asks navigator.ml for a context of the device type, gpu by default', async () => {
    const asked = stubMl(async () => ({}))
    expect(await skipOf(requireWebnn('npu'))).toBe('passed')
    expect(await skipOf(requireWebnn())).toBe('passed')
    expect(asked).toEqual(['npu', 'gpu'])
  })

  it('is not_available when the device type has no context', async () => {
    stubMl(async (o) => {
      throw new DOMException(`no ${o.deviceType} device`, 'NotSupportedError')
    })
    expect(await skipOf(requireWebnn('npu'))).toBe(
      "not_available|not_available: navigator.ml.createContext({deviceType: 'npu'}) failed: no npu device",
    )
  })

  it("runs on onnxruntime-web's WebNN execution provider with the device type", () => {
    expect(webnnProvider('cpu')).toEqual({ name: 'webnn', deviceType: 'cpu' })
    expect(webnnProvider()).toEqual({ name: 'webnn', deviceType: 'gpu' })
  })
})
