/**
 * @module
 * The SDK's inference worker with the crash switch of support/crash-switch.ts (evaluated first, as
 * ES modules evaluate their imports in order).
 */
import './crash-switch.ts'
import '../../../worker/index.ts'
