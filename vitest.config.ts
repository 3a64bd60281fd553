import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // e2e suites spawn real processes, ptys and brokers; give them room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two test files at a time: vitest's default on a 2-core machine is one, which ran the suite
    // file after file (12 min, 169 s of it importing between files, a core idle meanwhile); two
    // took 6.5-7.5 min with every test passing (measured 2026-12-07, three runs). Not more: the
    // e2e files share Mosquitto and PostgreSQL, and more at once is not what was measured.
    maxWorkers: 2,
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
