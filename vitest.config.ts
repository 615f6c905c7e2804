import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Property runs are budgeted in sequences, not seconds; a generous ceiling only guards hangs.
    testTimeout: 300_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
