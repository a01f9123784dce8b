import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // The wasm core is built by `npm run build` (npm ci runs it through `prepare`).
    globalSetup: ['test/setup/build-check.ts'],
  },
});
