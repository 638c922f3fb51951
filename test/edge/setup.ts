import { applyD1Migrations, env } from 'cloudflare:test'

// Storage is not isolated per test in vitest-pool-workers 0.15: suites reset what they touch.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS)
