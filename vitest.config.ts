import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Property runs are budgeted in sequences, not seconds; a generous ceiling only guards hangs.
    testTimeout: 300_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two test files at a time, whatever the cores: many tests wait on child processes (an
    // adapter's timeout, a process start, QEMU), and every test tolerates a loaded machine.
    maxWorkers: 2,
  },
});
