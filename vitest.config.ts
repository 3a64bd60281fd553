import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // e2e suites spawn real processes, ptys and brokers; give them room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    coverage: {
      provider: 'v8',
      include: ['protocols/**/*.ts'],
      reporter: ['text-summary', 'json-summary'],
      thresholds: {
        // [issue 3] protocols/ is pure code: keep it near-fully covered.
        lines: 95,
      },
    },
  },
});
