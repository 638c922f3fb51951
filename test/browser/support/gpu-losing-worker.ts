/**
 * @module
 * The SDK's inference worker with the device-loss switch of support/gpu-loss-switch.ts (evaluated
 * first, as ES modules evaluate their imports in order).
 */
import './gpu-loss-switch.ts'
import '../../../worker/index.ts'
