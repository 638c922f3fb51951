/**
 * The smallest useful ONNX model: `y = Identity(x)`, x float32 [1] (IR 8, opset 13; 80 bytes).
 * Creating a session from it starts a backend (WASM instance, WebGPU device) apart from any real
 * model, so a broken backend (`init_failed`, remembered) is told from a model that fails on it
 * (`create_failed`, this load only). Written with onnx-proto; test/unit/onnx-probe-model.test.ts
 * rebuilds it and checks these bytes.
 */
export const ONNX_PROBE_MODEL_BASE64 =
  'CAgSCWVkZ2VmbGVldDo7ChQKAXgSAXkaAm4wIghJZGVudGl0eRIBZ1oPCgF4EgoKCAgBEgQKAggBYg8KAXkSCgoICAESBAoCCAFCBAoAEA0='

/** The probe model's bytes (a fresh copy each call: sessions may keep or detach what they are given). */
export function onnxProbeModel(): Uint8Array {
  return Uint8Array.from(atob(ONNX_PROBE_MODEL_BASE64), (c) => c.charCodeAt(0))
}
