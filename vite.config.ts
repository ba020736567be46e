import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: '.',
  server: { fs: { allow: ['.'] } },
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup/compile-log.ts'],
    // Dawn's native addon is safest in child processes, one GPU device per test file.
    pool: 'forks',
    maxWorkers: 2,
    // Budgets on a 2-core machine with an empty shader cache (.ci/run): a slow test fails loudly.
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
