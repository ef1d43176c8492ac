// cudaMemory() reads the CUDA caching allocator's counters (the benchmarks' GPU memory figure); without CUDA it
// says so instead of returning zeros. One test either way, so no run reports a skip.
import { describe, expect, it } from 'vitest';
import { cudaMemory, info } from '../../src/index.js';

describe('cudaMemory', () => {
  it('reads and resets the peak counters on CUDA, names the missing CUDA elsewhere', () => {
    const runtime = info();
    if (!runtime.cudaAvailable) {
      expect(() => cudaMemory()).toThrow(runtime.builtWithCuda ? /no CUDA device 0/ : /built without CUDA/);
      return;
    }
    const before = cudaMemory(0, { reset: true });
    expect(before.peakAllocated).toBeGreaterThanOrEqual(before.allocated);
    const after = cudaMemory(0);
    expect(after.peakAllocated).toBe(after.allocated);
    expect(() => cudaMemory(runtime.cudaDeviceCount)).toThrow(/no CUDA device/);
  });
});
