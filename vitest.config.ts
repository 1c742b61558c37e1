import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    allowOnly: false,
    testTimeout: 60_000,
    // Fails any test during which an unexpected stack trace is printed (a green run prints none).
    setupFiles: ['test/setup/stack-guard.ts'],
  },
});
