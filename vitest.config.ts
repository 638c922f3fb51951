import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers'
import { playwright } from '@vitest/browser-playwright'
import { defaultClientConditions } from 'vite'
import { defineConfig } from 'vitest/config'
import { chromiumArgs, chromiumPath } from './scripts/lib/chromium.ts'

const requireChromium = './test/helpers/require-chromium.ts'
const shared = 'test/shared/**/*.test.ts'

// The worker's dependencies are invisible to Vite's scan of the test files; without this a cold cache
// discovers them mid-run and reloads the page under a running test.
const browserDeps = {
  include: [
    'comlink',
    'zod',
    'idb',
    'onnx-proto',
    'onnxruntime-web/wasm',
    'onnxruntime-web/webgpu',
    '@tensorflow/tfjs',
    '@tensorflow/tfjs-backend-wasm',
    '@tensorflow/tfjs-backend-webgpu',
  ],
}

/** A Chromium browser project: the system Chromium with the quiet-network flags (plus any given). */
function chromiumProject(name: string, include: string[], extraArgs: string[] = [], testTimeout?: number) {
  return {
    optimizeDeps: browserDeps,
    // onnxruntime-web's builds without the embedded glue, as the SDK build selects them (worker/engines/ort-builds.ts).
    resolve: { conditions: ['onnxruntime-web-use-extern-wasm', ...defaultClientConditions] },
    test: {
      name,
      include,
      // A missing Chromium fails these projects (never skips them) without breaking the others.
      globalSetup: [requireChromium],
      ...(testTimeout ? { testTimeout } : {}),
      browser: {
        enabled: true,
        headless: true,
        screenshotFailures: false,
        instances: [{ browser: 'chromium' as const }],
        provider: playwright({
          launchOptions: { executablePath: chromiumPath, args: [...chromiumArgs, ...extraArgs] },
        }),
      },
    },
  }
}

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          environment: 'node',
          include: ['test/unit/**/*.test.ts', shared],
        },
      },
      {
        plugins: [
          cloudflareTest({
            main: './edge/index.ts',
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              bindings: {
                TEST_MIGRATIONS: await readD1Migrations('./edge/migrations'),
                ENVIRONMENT: 'development',
                EDGEFLEET_ADMIN_TOKEN: 'test-admin-token',
                // Assignments read the rollout on every request here; the cache itself is tested on its own.
                ROLLOUT_CACHE_SECONDS: '0',
              },
            },
          }),
        ],
        test: {
          name: 'edge',
          include: ['test/edge/**/*.test.ts', shared],
          setupFiles: ['./test/edge/setup.ts'],
        },
      },
      chromiumProject('browser', ['test/browser/**/*.test.ts', shared]),
      // WebGPU on SwiftShader (a software adapter): the path runs or falls back with a recorded reason.
      chromiumProject('browser-webgpu', ['test/browser/**/*.webgpu-test.ts'], ['--enable-unsafe-webgpu'], 300_000),
      {
        test: {
          name: 'e2e',
          environment: 'node',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: [requireChromium, './test/e2e/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
})
