import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Native calls run on the libuv pool and libtorch's own threads; one test file at a time keeps a
    // 2-core machine from oversubscribing.
    fileParallelism: false,
    testTimeout: 60_000,
  },
});
