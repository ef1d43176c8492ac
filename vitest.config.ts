import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Native calls run on the libuv pool and libtorch's own threads; one test file at a time keeps a
    // 2-core machine from oversubscribing.
    fileParallelism: false,
    testTimeout: 60_000,
    projects: [
      { extends: true, test: { name: 'all', include: ['test/**/*.test.ts'] } },
      // The fused log-prob tests once more on the portable build of the CPU tile kernel (native/ops/cpu/tile_rows.h),
      // which a machine with AVX2 never picks by itself.
      {
        extends: true,
        test: {
          name: 'portable-kernel',
          include: [
            'test/train/sft-step.test.ts',
            'test/train/completion-logprobs.test.ts',
            'test/ops/logits-transform.test.ts',
          ],
          env: { ATEN_CPU_CAPABILITY: 'default' },
        },
      },
    ],
  },
});
