/** Every wire format of edgefleet, one schema each. Golden examples live in test/vectors/. */
export * from './common.ts'
export * from './error.ts'
export * from './signature.ts'
export * from './profile.ts'
export * from './sketch.ts'
export * from './telemetry.ts'
export * from './assignment.ts'
export * from './registry.ts'
