import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: '.',
  server: { fs: { allow: ['.'] } },
  test: {
    include: ['test/**/*.test.ts'],
    // Dawn's native addon is safest in child processes, one GPU device per test file.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
